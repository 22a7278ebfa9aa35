"""The offline preview as a user runs it: bad input fails cleanly, exactly as `pulumi preview` would."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT, run_preview


def write_config(tmp_path, config):
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_bad_settings_fail_with_one_line_each_and_no_traceback(tmp_path):
    config = write_config(
        tmp_path, {"monitoring:prometheus": {"retention": "30 days"}, "monitoring:grafna": {"port": 1}}
    )
    result = run_preview("staging", tmp_path / "out", "--config-file", str(config))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert 'monitoring:prometheus.retention: "30 days" is not a duration like 30d' in result.stderr
    assert "monitoring:grafna: unknown setting" in result.stderr
    assert not (tmp_path / "out" / "resources.json").exists(), "no half-declared stack"


def test_missing_secret_names_the_exact_command(tmp_path):
    config = write_config(tmp_path, {"monitoring:environment": "staging"})
    result = run_preview("staging", tmp_path / "out", "--config-file", str(config), "--strict-secrets")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert (
        "monitoring:grafana_admin_password: the Grafana admin password is not set; run: "
        "pulumi config set --secret monitoring:grafana_admin_password <value> -s staging"
    ) in result.stderr


def test_plain_text_secret_is_refused(tmp_path):
    config = write_config(tmp_path, {"monitoring:grafana_admin_password": "hunter2"})
    result = run_preview("staging", tmp_path / "out", "--config-file", str(config), "--strict-secrets")
    assert result.returncode != 0
    assert "is stored in plain text; run: pulumi config set --secret monitoring:grafana_admin_password" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_missing_secret_in_offline_preview_gets_a_placeholder_and_a_notice(tmp_path):
    result = run_preview("staging", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "notice: monitoring:grafana_admin_password is not set; previewing with a placeholder" in result.stderr


def test_unknown_stack_is_an_error(tmp_path):
    result = run_preview("qa", tmp_path / "out")
    assert result.returncode == 2
    assert "Pulumi.qa.yaml does not exist" in result.stderr


def test_preview_prints_the_resource_tree(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "preview", "staging", "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "monitoring:stack:MonitoringStack  monitoring" in result.stdout
    assert "    monitoring:prometheus:Prometheus  prometheus" in result.stdout
    assert "docker:index/container:Container  prometheus" in result.stdout
