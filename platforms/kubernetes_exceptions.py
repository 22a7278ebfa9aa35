"""The security scanner's exceptions, declared on each workload the way checkov reads them.

checkov (its Kubernetes framework, default checks) skips a check on a resource that carries the
annotation `checkov.io/skip<N>: <CHECK_ID>=<reason>`. Each exception below follows from what the
service description says (host namespaces, capabilities, the image's user...), so an exception can
only appear where the need does, and its reason is stated next to it.
"""

from __future__ import annotations

from services.spec import ServiceSpec

ANNOTATION_PREFIX = "checkov.io/skip"

# Every workload: the images are pinned by version tag in one catalog (settings/images.py); a digest
# would differ per registry mirror and architecture.
PINNED_BY_TAG = ("CKV_K8S_43", "images are pinned by released version tag in settings/images.py, pulled with Always")


def exceptions(spec: ServiceSpec) -> list[tuple[str, str]]:
    """(check id, reason) for each default check this workload is a documented exception to."""
    security = spec.security
    reason = security.exception or ""
    found: list[tuple[str, str]] = [PINNED_BY_TAG]
    uid = int((security.user or "65534").split(":")[0])
    if uid == 0:
        found.append(("CKV_K8S_23", f"runs as root: {reason}"))
        found.append(("CKV_K8S_40", f"runs as root: {reason}"))
    elif uid < 10000:
        found.append(("CKV_K8S_40", f"uid {uid} is the image's own user, owner of its files"))
    if security.host_pid:
        found.append(("CKV_K8S_17", reason))
    if security.host_network:
        found.append(("CKV_K8S_19", reason))
    if security.privileged:
        found.append(("CKV_K8S_16", reason))
        # Privileged holds every capability and may escalate: a drop list or a no-escalation flag
        # beside it would be void (services.spec.Security refuses them), so these checks follow.
        found.append(("CKV_K8S_20", f"privileged, which implies privilege escalation: {reason}"))
        found.append(("CKV_K8S_28", f"privileged, which holds NET_RAW among every capability: {reason}"))
        found.append(("CKV_K8S_37", f"privileged, which holds every capability: {reason}"))
    if security.add_capabilities:
        found.append(("CKV_K8S_25", reason))
    if "SYS_ADMIN" in security.add_capabilities:
        found.append(("CKV_K8S_39", reason))
    if spec.api_reads:
        found.append(("CKV_K8S_38", "reads the cluster API for discovery: needs its service account token"))
    elif spec.api_writes:
        found.append(("CKV_K8S_38", "keeps its own ConfigMap through the cluster API (a Role on that one object): "
                                    "needs its service account token"))
    if spec.secret_env:
        found.append(("CKV_K8S_35", "the tool reads this secret from the environment only (no *_file option)"))
    return found


def scanner_annotations(spec: ServiceSpec) -> dict[str, str]:
    return {
        f"{ANNOTATION_PREFIX}{index}": f"{check}={why}"
        for index, (check, why) in enumerate(exceptions(spec), start=1)
    }
