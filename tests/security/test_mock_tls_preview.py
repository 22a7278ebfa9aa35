"""The mock exporters (and dcgm-exporter, redis_exporter) as the stacks declare them with TLS and
authentication on: offline previews (the mock engine), as `pulumi preview` would.

- prod (Kubernetes, TLS generated, auth on): every mock's pod mounts its web configuration, its
  certificate and key from its own Secret and runs with `--web-config-file`; its probes are exec
  probes of the image's python reading the Authorization header from the mounted file (nothing of
  it in the pod spec); its certificate names the Service's names; its scrape job in the rendered
  prometheus.yml is https with the CA, the mock's name and the client user's password file;
- staging on Docker with TLS and auth on, dcgm-exporter in shadow and redis_exporter real: the
  mock containers get the same files as uploads and a python health check; dcgm-exporter its web
  configuration with `--web-config-file`; redis_exporter its certificate flags, its user flag and
  the bcrypt hash only as a secret environment variable.

Mutations checked (each fails a test here): mocks dropped from `reads_web_config`
(render/web_config.py); `source == "mock"` dropped from `_job`'s `secured` (render/exporters.py);
the Kubernetes probe ignoring `health_command` (platforms/kubernetes_objects.py: a tcpSocket probe);
"dcgm" dropped from WEB_CONFIG_FLAGS; redis dropped from FLAG_TLS_EXPORTERS (render/tls_clients.py);
the hash derivation removed from components/certificates.py (the preview fails: no secret).
"""

from __future__ import annotations

import json

import yaml

from tests.conftest import ROOT
from tests.kubernetes.platform_support import manifests, of_kind, preview_with

NAMESPACE = "monitoring"
PROD_MOCKS = ("cadvisor", "dcgm", "vllm")
HEADER_FILE = "/run/secrets/health_authorization"


def test_every_prod_mock_pod_serves_its_web_config_and_probes_with_the_header_file(previews):
    documents = manifests(previews["prod"])
    deployments = of_kind(documents, "Deployment")
    secrets = of_kind(documents, "Secret")
    for exporter in PROD_MOCKS:
        name = f"mock-{exporter}"
        pod = deployments[f"{NAMESPACE}/{name}"]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert "--web-config-file=/run/secrets/web-config.yml" in container["args"], name
        [volume] = [v for v in pod["volumes"] if "secret" in v]
        files = {item["path"]: item["key"] for item in volume["secret"]["items"]}
        assert files == {"web-config.yml": f"web-config.{name}", "tls.crt": f"tls.{name}.crt",
                         "tls.key": f"tls.{name}.key", "health_authorization": "health-authorization"}, name
        assert set(secrets[f"{NAMESPACE}/{volume['secret']['secretName']}"]["stringData"].values()) == {"[secret]"}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:2] == ["python", "-c"] and HEADER_FILE in command[2], (name, probe)
            assert "https://127.0.0.1:" in command[2], (name, probe)
        assert "Basic " not in json.dumps(pod), name


def test_every_prod_mock_has_a_certificate_for_its_service_names(previews):
    resources = previews["prod"].resources
    for exporter in PROD_MOCKS:
        name = f"mock-{exporter}"
        csr = next(r for r in resources if r["name"] == f"{name}-csr-1")
        assert {name, f"{name}.{NAMESPACE}.svc", f"{name}.{NAMESPACE}.svc.cluster.local"} <= set(csr["inputs"]["dnsNames"])
        assert any(r["name"] == f"{name}-cert-1" for r in resources), name


def test_every_prod_mock_job_scrapes_https_with_the_ca_its_name_and_the_client_user(previews):
    documents = manifests(previews["prod"])
    config = yaml.safe_load(of_kind(documents, "ConfigMap")[f"{NAMESPACE}/prometheus-config"]["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for exporter in PROD_MOCKS:
        job = jobs[f"{exporter}-mock"]
        assert job["scheme"] == "https", exporter
        assert job["tls_config"] == {"ca_file": "/run/secrets/ca.crt", "server_name": f"mock-{exporter}"}
        assert job["basic_auth"] == {"username": "monitoring", "password_file": "/run/secrets/web_client_password"}
        # Discovery of the mock's pods still comes first (pod IPs, checked by the mock's name).
        assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [NAMESPACE]}}]


def test_a_docker_stack_with_tls_secures_the_mocks_dcgm_exporter_and_redis_exporter(tmp_path):
    exporters = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"]["monitoring:exporters"]
    exporters["redis"] = {"mode": "real"}
    preview = preview_with(tmp_path, "staging", {
        "monitoring:security": {"tls": {"mode": "generated"}, "auth": {"enabled": True}},
        "monitoring:exporters": exporters,
    })
    containers = {r["name"]: r["inputs"] for r in preview.resources if r["type"] == "docker:index/container:Container"}
    for name in ("mock-dcgm", "mock-vllm", "dcgm-exporter"):
        uploads = {u["file"]: u["content"] for u in containers[name]["uploads"]}
        for file_name in ("tls.crt", "tls.key", "web-config.yml", "health_authorization"):
            assert uploads[f"/run/secrets/{file_name}"] == "[secret]", (name, file_name)
        health = containers[name]["healthcheck"]["tests"]
        assert HEADER_FILE in health[-1] and "https://127.0.0.1:" in health[-1], name
    assert containers["mock-dcgm"]["healthcheck"]["tests"][1:3] == ["python", "-c"]
    assert "--web-config-file=/run/secrets/web-config.yml" in containers["mock-dcgm"]["command"]
    assert "--web-config-file=/run/secrets/web-config.yml" in containers["dcgm-exporter"]["command"]
    redis = containers["redis-exporter"]
    assert {"--tls-server-cert-file=/run/secrets/tls.crt", "--tls-server-key-file=/run/secrets/tls.key",
            "--basic-auth-username=monitoring"} <= set(redis["command"])
    assert not any("password" in arg and "username" not in arg for arg in redis["command"])
    # The hash is a secret: the preview shows the variable's value only as a secret.
    assert "REDIS_EXPORTER_BASIC_AUTH_HASH_PASSWORD" not in json.dumps([e for e in redis["envs"] if e != "[secret]"])
    assert "[secret]" in redis["envs"]
    assert "$2b$" not in json.dumps(preview.resources)
