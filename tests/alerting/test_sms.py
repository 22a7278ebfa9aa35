"""SMS through Amazon SNS: one `sns_configs` entry per phone number on the paging routes, the AWS
keys only in a credentials file, and a real Alertmanager delivering a critical alert to a local
stand-in for SNS (its Publish API on 127.0.0.1) signed with the key from that file."""

from __future__ import annotations

import configparser
import datetime
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from alerting.alertmanager import SMS_CREDENTIALS, render_alertmanager_config
from preview.__main__ import PLACEHOLDER
from settings.secrets import SECRETS
from tests.alerting.support import EVERY_RECEIVER, settings_with, write_local
from tests.conftest import ROOT
from tests.e2e.procs import Processes, free_port, http_json, start_alertmanager, wait_until

SMS = EVERY_RECEIVER["receivers"]["sms"]
SMS_SECRET = next(spec for spec in SECRETS if spec.key == "sms_aws_secret_access_key")
# AWS's documented example key pair: never a real one.
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def sns_configs(receiver: str, settings=None) -> list[dict[str, Any]]:
    document = render_alertmanager_config(settings or settings_with(EVERY_RECEIVER))
    return next(r for r in document["receivers"] if r["name"] == receiver).get("sns_configs", [])


def test_every_number_is_texted_from_the_paging_routes_only():
    for receiver in ("critical", "security"):
        configs = sns_configs(receiver)
        assert [c["phone_number"] for c in configs] == SMS["phone_numbers"], receiver
        for config in configs:
            assert config["sigv4"] == {"region": "eu-west-1"} and "api_url" not in config
            assert config["message"] == '{{ template "monitoring.sms" . }}'
            assert config["attributes"] == {"AWS.SNS.SMS.SMSType": "Transactional"}
    for receiver in ("default", "warning", "info", "heartbeat", "escalation"):
        assert sns_configs(receiver) == [], receiver
    assert all(sns_configs(r, settings_with({})) == [] for r in ("critical", "security"))


def test_the_credentials_file_holds_the_key_pair():
    settings = settings_with(EVERY_RECEIVER)
    assert SMS_SECRET.file_name == SMS_CREDENTIALS
    parsed = configparser.ConfigParser()
    parsed.read_string(SMS_SECRET.content(settings, SECRET_ACCESS_KEY + "\n"))
    assert dict(parsed["default"]) == {"aws_access_key_id": SMS["access_key_id"], "aws_secret_access_key": SECRET_ACCESS_KEY}
    # Every other secret's file holds the value exactly as set.
    slack = next(spec for spec in SECRETS if spec.key == "slack_api_url")
    assert slack.content(settings, "https://hooks.slack.com/services/T/B/X") == "https://hooks.slack.com/services/T/B/X"


# --- Delivery through a real Alertmanager ------------------------------------------------------


class FakeSns:
    """SNS's Publish action (query protocol) on a free loopback port, recording each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                reply = (
                    b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
                    b"<MessageId>00000000-0000-0000-0000-000000000001</MessageId></PublishResult>"
                    b"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeSns":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_signature(request: dict[str, Any], secret_key: str) -> tuple[str, str]:
    """(the signature the request carries, the one its signed headers and body give with
    `secret_key`), following AWS Signature Version 4 for a POST to `/` without a query string."""
    headers = {name.lower(): value for name, value in request["headers"].items()}
    fields = dict(part.split("=", 1) for part in headers["authorization"].split(" ", 1)[1].split(", "))
    signed = fields["SignedHeaders"].split(";")
    canonical = "\n".join([
        "POST", request["path"], "",
        *(f"{name}:{' '.join(headers[name].split())}" for name in signed), "",
        fields["SignedHeaders"], hashlib.sha256(request["body"]).hexdigest(),
    ])
    _, date, region, service, _ = fields["Credential"].split("/")
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), date), region), service), "aws4_request")
    return fields["Signature"], hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def aws_environment(monkeypatch, tmp_path):
    """Only the credentials file the stack writes: no keys, profile, config or instance metadata
    (a non-loopback address) from the machine running the test."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN",
                     "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.mark.e2e
def test_a_critical_alert_is_texted_to_every_number(tmp_path, aws_environment):
    """Mutations caught: SMS left off the critical receiver, the phone numbers, message template,
    SMS type or region not reaching SNS, and keys not read from the credentials file the
    environment names (the request must be signed with that file's secret key)."""
    with FakeSns() as sns, Processes() as processes:
        fast = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
        settings = settings_with({
            "receivers": {"sms": {**SMS, "api_url": sns.url}},
            "routes": {"critical": fast},
            "escalation": {"enabled": False},
        })
        config = write_local(settings, tmp_path)
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        (secrets / SMS_CREDENTIALS).write_text(SMS_SECRET.content(settings, SECRET_ACCESS_KEY))
        # The variable the stack sets on the container (alertmanager_environment), here pointed
        # at the local secrets directory.
        aws_environment.setenv("AWS_SHARED_CREDENTIALS_FILE", str(secrets / SMS_CREDENTIALS))
        alertmanager = start_alertmanager(processes, config, tmp_path, free_port())

        now = datetime.datetime.now(datetime.timezone.utc)
        alert = {
            "labels": {"alertname": "NodeFilesystemAlmostOutOfSpace", "severity": "critical", "env": "test",
                       "instance": "db-1:9100", "component": "node"},
            "annotations": {"summary": "Filesystem / on db-1:9100 has 2% space left.",
                            "runbook_url": "docs/runbooks/node.md#nodefilesystemalmostoutofspace"},
            "startsAt": now.isoformat(),
        }
        http_json(f"{alertmanager.url}/api/v2/alerts", "POST", [alert])
        wait_until(lambda: len(sns.requests) >= len(SMS["phone_numbers"]), 30, "an SMS to every number")

    published = [(r, {k: v[0] for k, v in urllib.parse.parse_qs(r["body"].decode()).items()}) for r in sns.requests]
    assert sorted(form["PhoneNumber"] for _, form in published) == sorted(SMS["phone_numbers"])
    for request, form in published:
        assert form["Action"] == "Publish"
        assert form["Message"].splitlines() == [
            "[FIRING:1] critical NodeFilesystemAlmostOutOfSpace (test)",
            "Filesystem / on db-1:9100 has 2% space left.",
            "docs/runbooks/node.md#nodefilesystemalmostoutofspace",
        ]
        assert form["Subject"] == "[FIRING] NodeFilesystemAlmostOutOfSpace"
        assert (form["MessageAttributes.entry.1.Name"], form["MessageAttributes.entry.1.Value.StringValue"]) == (
            "AWS.SNS.SMS.SMSType", "Transactional")
        credential = request["headers"]["Authorization"].split("Credential=", 1)[1].split(",", 1)[0]
        assert credential.split("/")[0] == SMS["access_key_id"] and credential.endswith("/eu-west-1/sns/aws4_request")
        carried, expected = sigv4_signature(request, SECRET_ACCESS_KEY)
        assert carried == expected, "the request is not signed with the credentials file's secret key"


# --- What the Pulumi program hands the container -----------------------------------------------

# Runs the real program under the mock engine and prints the Alertmanager container's environment
# and its secret uploads with the secrets revealed (resources.json masks them).
_REVEAL_ALERTMANAGER = """
import json, sys
from pathlib import Path
import preview.output as output
from preview.__main__ import run

write_build = output.write_build

def write_and_reveal(out_dir, monitor):
    write_build(out_dir, monitor)
    container = next(r for r in monitor.registrations
                     if r.type == "docker:index/container:Container" and r.name == "alertmanager")
    uploads = {u["file"]: u["content"] for u in container.revealed_inputs["uploads"] if u["file"].startswith("/run/secrets/")}
    print(json.dumps({"envs": container.revealed_inputs.get("envs", []), "secrets": uploads}))

output.write_build = write_and_reveal
sys.exit(run("staging", Path(sys.argv[1]), Path(sys.argv[2]), quiet=True))
"""


def test_the_program_gives_alertmanager_the_credentials_file_and_its_variable(tmp_path):
    """Mutations caught: the container without AWS_SHARED_CREDENTIALS_FILE (SNS would find no keys
    in the container), or the bare secret key uploaded instead of a credentials file."""
    document = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    document["config"]["monitoring:alerting"] = {"receivers": {"sms": SMS}}
    config = tmp_path / "Pulumi.staging.yaml"
    config.write_text(yaml.safe_dump(document))
    result = subprocess.run([sys.executable, "-c", _REVEAL_ALERTMANAGER, str(config), str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    container = json.loads(result.stdout.strip().splitlines()[-1])
    assert "AWS_SHARED_CREDENTIALS_FILE=/run/secrets/sms_aws_credentials" in container["envs"]
    parsed = configparser.ConfigParser()
    parsed.read_string(container["secrets"]["/run/secrets/sms_aws_credentials"])
    assert dict(parsed["default"]) == {
        "aws_access_key_id": SMS["access_key_id"],
        "aws_secret_access_key": f"{PLACEHOLDER}-sms_aws_secret_access_key",
    }
