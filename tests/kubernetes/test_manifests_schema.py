"""Every Kubernetes object of the prod preview, written as a manifest, validated strictly against the
OpenAPI schema of the target Kubernetes version (kubernetes-validate; unknown fields are errors)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests.conftest import stack_settings
from tests.kubernetes.platform_support import EVERYTHING_ON, manifests, of_kind, preview_with


def schema_version(settings) -> str:
    return f"{settings.kubernetes.version}.0"


def validate_all(documents, version: str) -> list[str]:
    problems = []
    for path, document in documents.items():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{path}: {error.message} at {'/'.join(map(str, error.path))}")
    return problems


@pytest.fixture(scope="module")
def everything_on(tmp_path_factory):
    return preview_with(tmp_path_factory.mktemp("k8s-everything"), "prod", EVERYTHING_ON)


def test_prod_preview_writes_every_kubernetes_object_as_a_manifest(previews):
    preview = previews["prod"]
    documents = manifests(preview)
    kubernetes_resources = [r for r in preview.resources if r["type"].startswith("kubernetes:") and r["custom"]]
    kubernetes_resources = [r for r in kubernetes_resources if r["type"] != "pulumi:providers:kubernetes"]
    assert len(documents) == len(kubernetes_resources) > 40
    kinds = {document["kind"] for document in documents.values()}
    assert kinds >= {
        "Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service", "StatefulSet", "Deployment", "DaemonSet",
        "PodDisruptionBudget", "NetworkPolicy", "ClusterRole", "ClusterRoleBinding", "PersistentVolumeClaim", "Ingress",
    }
    # The rendered documents the pods receive are written too, from the ConfigMaps.
    assert (preview.out / "prometheus" / "prometheus.yml").is_file()
    assert (preview.out / "alertmanager" / "alertmanager.yml").is_file()


def test_staging_on_docker_writes_no_manifest(previews):
    assert not (previews["staging"].out / "kubernetes").exists()
    assert not [r for r in previews["staging"].resources if r["type"].startswith("kubernetes:")]


def test_prod_manifests_are_valid_for_the_target_kubernetes_version(previews):
    documents = manifests(previews["prod"])
    assert documents
    assert validate_all(documents, schema_version(stack_settings("prod"))) == []


def test_every_optional_object_is_valid_too(everything_on):
    documents = manifests(everything_on)
    assert of_kind(documents, "Ingress") and of_kind(documents, "DaemonSet")
    assert "observability-host/dcgm-exporter" in of_kind(documents, "DaemonSet")
    assert validate_all(documents, schema_version(stack_settings("prod"))) == []


def test_strict_validation_rejects_an_unknown_field(previews):
    """The control: the same validation fails on a field the schema does not know."""
    documents = manifests(previews["prod"])
    path, statefulset = next((p, d) for p, d in documents.items() if d["kind"] == "StatefulSet")
    broken = copy.deepcopy(statefulset)
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True  # misspelt
    assert validate_all({path: broken}, schema_version(stack_settings("prod")))
