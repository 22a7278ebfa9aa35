"""Pure builders of the Kubernetes objects a service description becomes (plain dicts, camelCase).

`platforms.kubernetes` wraps them into pulumi-kubernetes resources; tests read them without Pulumi.
Field names follow the Kubernetes API (core/v1, apps/v1, policy/v1, networking.k8s.io/v1) of the
version in `kubernetes.version`; the manifests are validated strictly against its OpenAPI schema.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from services.spec import ServiceSpec, VolumeSpec
from services.tls import probe_shell_command
from settings.kubernetes import Placement
from settings.model import StackSettings

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
ANNOTATION_CONFIG_HASH = "monitoring.io/config-hash"
ANNOTATION_EXCEPTION = "monitoring.io/security-exception"
SECRETS_DIR = "/run/secrets"
CONFIG_VOLUME = "config"
SECRETS_VOLUME = "secrets"
# Secret files: readable by the owner and the pod's fsGroup (the service's group); the kubelet writes
# them as root, so 0400 would leave a non-root service unable to read its own secret.
SECRET_FILE_MODE = 0o440
# Where per-node agents keep their small state (read positions) on the node, across pod restarts.
AGENT_STATE_ROOT = "/var/lib"
# Seconds a peer or replica gets to flush its WAL, snapshot or notification log before SIGKILL.
GRACE_SECONDS = 60
# The label the StatefulSet controller sets on each of its pods with the pod's own name.
STATEFULSET_POD_NAME = "statefulset.kubernetes.io/pod-name"
# A scheduled job's run: started at most this late, stopped after this long.
CRON_STARTING_DEADLINE_S = 3600
CRON_ACTIVE_DEADLINE_S = 6 * 3600


def selector_labels(settings: StackSettings, spec: ServiceSpec) -> dict[str, str]:
    return {LABEL_NAME: spec.name, LABEL_INSTANCE: settings.prefix}


def common_labels(settings: StackSettings, spec: ServiceSpec) -> dict[str, str]:
    return {**selector_labels(settings, spec), LABEL_PART_OF: "monitoring", LABEL_MANAGED_BY: "pulumi"}


def pod_security_level(spec: ServiceSpec) -> str:
    """The Pod Security Standard level the service's pod needs (restricted unless it reads the host)."""
    security = spec.security
    if (
        security.privileged
        or security.host_pid
        or security.host_network
        or security.add_capabilities
        or security.devices
        or security.gpus
        or spec.host_mounts
        or (spec.per_node and any(volume.stateful for volume in spec.volumes))
    ):
        return "privileged"
    if runs_as_root(spec):
        return "baseline"
    return "restricted"


def runs_as_root(spec: ServiceSpec) -> bool:
    return user_ids(spec)[0] == 0


def user_ids(spec: ServiceSpec) -> tuple[int, int]:
    """uid and gid of the service's user; the images' nobody when the spec keeps the image's user."""
    user = spec.security.user or "65534:65534"
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


def config_key(relpath: str) -> str:
    """A ConfigMap key for a file path (keys may not contain '/')."""
    return relpath.replace("/", "__")


def config_relpath(key: str) -> str:
    """The file path a ConfigMap key stands for (the inverse of `config_key`)."""
    return key.replace("__", "/")


def config_hash(spec: ServiceSpec) -> str:
    """Changes whenever a rendered document changes: the pod template changes with it and the pods roll."""
    files = {f.relpath: f.content for f in spec.files}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def quantity_cpu(cpus: float) -> str:
    return f"{max(1, round(cpus * 1000))}m"


def quantity_bytes(size: str) -> str:
    """`50GB` -> `50G` (Kubernetes' decimal suffixes)."""
    number, unit = re.fullmatch(r"(\d+)([A-Z]+)", size).groups()
    return number + {"B": "", "KB": "k", "MB": "M", "GB": "G", "TB": "T", "PB": "P", "EB": "E"}[unit]


def probes(spec: ServiceSpec) -> dict[str, Any]:
    health = spec.health
    http = {"httpGet": {"path": health.path, "port": health.port}, "timeoutSeconds": health.timeout_s}
    if health.scheme == "https":
        http["httpGet"]["scheme"] = "HTTPS"
    if health.authorization_file:
        # Behind basic auth (security.auth): an httpGet probe would need the password in the pod spec's
        # httpHeaders; the image's own wget reads it from the mounted secret file instead. An image
        # without wget gets a TCP probe (the listener is up; TLS and auth are not exercised).
        # A python image (the mocks) probes with its own command, which reads the file the same way.
        command = probe_shell_command(health)
        http = (
            {"exec": {"command": list(spec.health_command)}, "timeoutSeconds": health.timeout_s}
            if spec.health_command
            else {"exec": {"command": ["sh", "-c", command]}, "timeoutSeconds": health.timeout_s}
            if spec.image_has_wget
            else {"tcpSocket": {"port": health.port}, "timeoutSeconds": health.timeout_s}
        )
    startup_period = 5
    return {
        # Liveness and readiness wait until the service has started once (TSDB/WAL replay can be long).
        "startupProbe": {
            **http,
            "periodSeconds": startup_period,
            "failureThreshold": math.ceil(health.start_period_s / startup_period) + health.retries,
        },
        "livenessProbe": {**http, "periodSeconds": health.interval_s, "failureThreshold": health.retries},
        "readinessProbe": {**http, "periodSeconds": max(5, health.interval_s // 3), "failureThreshold": 3},
    }


def resources(spec: ServiceSpec) -> dict[str, Any]:
    # Requests equal limits: the Guaranteed QoS class, so the node never evicts the monitoring first.
    amounts = {"cpu": quantity_cpu(spec.resources.cpus), "memory": f"{spec.resources.memory_mb}Mi"}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def container_security(spec: ServiceSpec) -> dict[str, Any]:
    security = spec.security
    uid, gid = user_ids(spec)
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": bool(security.privileged),
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": list(security.drop_capabilities)},
        "runAsNonRoot": uid != 0,
        "runAsUser": uid,
        "runAsGroup": gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if security.add_capabilities:
        context["capabilities"]["add"] = list(security.add_capabilities)
    if security.privileged:
        context["privileged"] = True
    return context


def pod_security(spec: ServiceSpec) -> dict[str, Any]:
    uid, gid = user_ids(spec)
    return {
        "runAsNonRoot": uid != 0,
        "runAsUser": uid,
        "runAsGroup": gid,
        # Volumes (PVCs, secrets) are group-owned by the service's group, so its user can use them.
        "fsGroup": gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def env(spec: ServiceSpec) -> list[dict[str, Any]]:
    variables: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in sorted(spec.env.items())]
    fields = {"name": "metadata.name", "ip": "status.podIP", "node": "spec.nodeName"}
    variables += [
        {"name": key, "valueFrom": {"fieldRef": {"fieldPath": fields[identity]}}}
        for key, identity in sorted(spec.identity_env.items())
    ]
    variables += [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name(spec), "key": secret_key}}}
        for key, secret_key in sorted(spec.secret_env.items())
    ]
    if spec.security.gpus:
        # The NVIDIA container runtime exposes the GPUs this variable names to the container.
        variables.append({"name": "NVIDIA_VISIBLE_DEVICES", "value": spec.security.gpus})
    return variables


def config_map_name(spec: ServiceSpec) -> str:
    return f"{spec.name}-config"


def secret_name(spec: ServiceSpec) -> str:
    return f"{spec.name}-secrets"


def scratch_volume(path: str) -> str:
    return "scratch-" + (path.strip("/").replace("/", "-").replace("_", "-") or "root")


def host_volume(path: str) -> str:
    return "host-" + (path.strip("/").replace("/", "-").replace("_", "-").replace(".", "-") or "root")


def volumes_and_mounts(settings: StackSettings, spec: ServiceSpec) -> tuple[list[dict], list[dict], list[dict]]:
    """The pod's volumes, the container's mounts, and (for a StatefulSet) its claim templates."""
    volumes: list[dict] = []
    mounts: list[dict] = []
    claims: list[dict] = []
    if spec.files:
        volumes.append({"name": CONFIG_VOLUME, "configMap": {"name": config_map_name(spec)}})
        # One mount per file (subPath): the image's other files under the config dir stay visible.
        mounts += [
            {
                "name": CONFIG_VOLUME,
                "mountPath": f"{spec.config_dir}/{f.relpath}",
                "subPath": config_key(f.relpath),
                "readOnly": True,
            }
            for f in spec.files
        ]
    if spec.secret_files:
        volumes.append(
            {
                "name": SECRETS_VOLUME,
                "secret": {
                    "secretName": secret_name(spec),
                    "defaultMode": SECRET_FILE_MODE,
                    "items": [{"key": s.secret_key, "path": s.file_name} for s in spec.secret_files],
                },
            }
        )
        mounts.append({"name": SECRETS_VOLUME, "mountPath": SECRETS_DIR, "readOnly": True})
    for volume in spec.volumes:
        claim = claim_name(spec, volume.name)
        if volume.config_map:
            # A ConfigMap another service keeps (its ApiWrite), as a read-only directory kubelet refreshes.
            volumes.append({"name": volume.name, "configMap": {"name": volume.config_map, "optional": False}})
            mounts.append({"name": volume.name, "mountPath": volume.mount_path, "readOnly": True})
            continue
        if not volume.stateful:
            volumes.append({"name": volume.name, "emptyDir": {}})
        elif volume.borrowed_from and not spec.per_node:
            # Another service's claim (the backup job reading Prometheus' TSDB), on the node it is
            # attached to (see `placement`).
            name = f"{volume.borrowed_from}-{volume.name}"
            volumes.append({"name": name, "persistentVolumeClaim": {"claimName": borrowed_claim_name(volume)}})
            mounts.append({"name": name, "mountPath": volume.mount_path, "readOnly": not volume.borrowed_writable})
            continue
        elif spec.per_node:
            # A DaemonSet has no claims: its small state lives on the node it reads. A volume borrowed
            # from another agent (Alloy reading Promtail's positions) is that agent's directory, read-only.
            owner = volume.borrowed_from or spec.name
            path = f"{AGENT_STATE_ROOT}/{settings.prefix}-{owner}-{volume.name}"
            volumes.append({"name": volume.name, "hostPath": {"path": path, "type": "DirectoryOrCreate"}})
            if volume.borrowed_from:
                mounts.append({"name": volume.name, "mountPath": volume.mount_path, "readOnly": True})
                continue
        elif spec.stable_identity:
            claims.append(claim_template(settings, spec, volume.name))
        else:
            volumes.append({"name": volume.name, "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": volume.name, "mountPath": volume.mount_path})
    for host_mount in spec.host_mounts:
        name = host_volume(host_mount.host_path)
        volumes.append({"name": name, "hostPath": {"path": host_mount.host_path}})
        mount = {"name": name, "mountPath": host_mount.mount_path, "readOnly": True}
        if host_mount.propagation == "rslave":
            mount["mountPropagation"] = "HostToContainer"
        mounts.append(mount)
    for path in spec.scratch_dirs:
        if any(m["mountPath"] == path for m in mounts):
            continue
        volumes.append({"name": scratch_volume(path), "emptyDir": {"sizeLimit": "64Mi"}})
        mounts.append({"name": scratch_volume(path), "mountPath": path})
    return volumes, mounts, claims


def claim_name(spec: ServiceSpec, volume: str) -> str:
    return f"{spec.name}-{volume}"


def borrowed_claim_name(volume: VolumeSpec) -> str:
    """The claim of a borrowed volume: a StatefulSet replica's from its claim template
    (`<volume>-<service>-<ordinal>`), a Deployment's by its own name."""
    owner = volume.borrowed_from
    if volume.borrowed_replica is not None:
        return f"{volume.name}-{owner}-{volume.borrowed_replica}"
    return f"{owner}-{volume.name}"


def colocation(settings: StackSettings, spec: ServiceSpec) -> dict[str, Any] | None:
    """A ReadWriteOnce claim attaches to one node at a time: a pod borrowing one runs on the node of
    the pod that owns it (several pods of one node may share the claim)."""
    borrowed = [v for v in spec.volumes if v.borrowed_from and v.stateful]
    if spec.per_node or not borrowed:
        return None
    terms = []
    for volume in borrowed:
        labels = {LABEL_NAME: volume.borrowed_from, LABEL_INSTANCE: settings.prefix}
        if volume.borrowed_replica is not None:
            labels[STATEFULSET_POD_NAME] = f"{volume.borrowed_from}-{volume.borrowed_replica}"
        terms.append({"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"})
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}


def storage_size(settings: StackSettings, spec: ServiceSpec) -> str:
    size = getattr(settings.kubernetes.storage, spec.name, None)
    if size is None:
        raise ValueError(f"{spec.name} keeps state but kubernetes.storage has no size for it")
    return quantity_bytes(size)


def claim_spec(settings: StackSettings, spec: ServiceSpec) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage_size(settings, spec)}},
    }
    if settings.kubernetes.storage_class:
        claim["storageClassName"] = settings.kubernetes.storage_class
    return claim


def claim_template(settings: StackSettings, spec: ServiceSpec, volume: str) -> dict[str, Any]:
    return {"metadata": {"name": volume, "labels": selector_labels(settings, spec)}, "spec": claim_spec(settings, spec)}


def placement(settings: StackSettings, spec: ServiceSpec) -> dict[str, Any]:
    kubernetes = settings.kubernetes
    pod: dict[str, Any] = {}
    chosen: Placement | None
    if spec.node_pool == "gpu":
        chosen = kubernetes.gpu_nodes
        if kubernetes.gpu_nodes.runtime_class_name:
            pod["runtimeClassName"] = kubernetes.gpu_nodes.runtime_class_name
    elif spec.per_node:
        chosen = None
        # A node agent belongs on every node, tainted or not.
        pod["tolerations"] = [{"operator": "Exists"}]
    else:
        chosen = kubernetes.placement
    if chosen is not None:
        if chosen.node_selector:
            pod["nodeSelector"] = dict(sorted(chosen.node_selector.items()))
        if chosen.tolerations:
            pod["tolerations"] = [t.model_dump(exclude_none=True) for t in chosen.tolerations]
    affinity = colocation(settings, spec)
    if affinity:
        pod["affinity"] = affinity
    if spec.replicas > 1:
        # Replicas on different nodes (hard) and, where the cluster has zones, in different zones (soft).
        pod["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": selector_labels(settings, spec)},
            }
            for key, when in (("kubernetes.io/hostname", "DoNotSchedule"), ("topology.kubernetes.io/zone", "ScheduleAnyway"))
        ]
    return pod


def container(settings: StackSettings, spec: ServiceSpec, image: Any, mounts: list[dict]) -> dict[str, Any]:
    return {
        "name": spec.name,
        "image": image,
        # Tags are pinned; Always re-checks the registry so a re-pushed tag cannot run stale code.
        "imagePullPolicy": "Always",
        "args": list(spec.command),
        "env": env(spec),
        "ports": [
            {"name": port.name, "containerPort": port.container_port, "protocol": port.protocol}
            for port in (*spec.ports, *(spec.peers.ports if spec.peers else ()))
        ],
        "volumeMounts": mounts,
        "resources": resources(spec),
        "securityContext": container_security(spec),
        # A scheduled job runs to completion: nothing to probe.
        **({} if spec.schedule else probes(spec)),
    }


def pod_template(
    settings: StackSettings, spec: ServiceSpec, image: Any, annotations: dict[str, str]
) -> tuple[dict[str, Any], list[dict]]:
    volumes, mounts, claims = volumes_and_mounts(settings, spec)
    pod_annotations = {ANNOTATION_CONFIG_HASH: config_hash(spec), **annotations}
    pod_spec: dict[str, Any] = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": bool(spec.api_reads or spec.api_writes),
        "securityContext": pod_security(spec),
        "containers": [container(settings, spec, image, mounts)],
        "volumes": volumes,
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        **placement(settings, spec),
    }
    if spec.security.host_pid:
        pod_spec["hostPID"] = True
    if spec.security.host_network:
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if settings.kubernetes.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in settings.kubernetes.image_pull_secrets]
    template = {
        "metadata": {"labels": common_labels(settings, spec), "annotations": pod_annotations},
        "spec": pod_spec,
    }
    return template, claims


def workload_kind(spec: ServiceSpec) -> str:
    if spec.schedule:
        return "CronJob"
    if spec.per_node:
        return "DaemonSet"
    if spec.stable_identity:
        return "StatefulSet"
    return "Deployment"


def workload_spec(
    settings: StackSettings, spec: ServiceSpec, image: Any, annotations: dict[str, str], peer_service: str
) -> dict[str, Any]:
    template, claims = pod_template(settings, spec, image, annotations)
    kind = workload_kind(spec)
    if kind == "CronJob":
        return cron_job_spec(settings, spec, template)
    body: dict[str, Any] = {"selector": {"matchLabels": selector_labels(settings, spec)}, "template": template}
    if kind == "DaemonSet":
        body["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
        return body
    body["replicas"] = spec.replicas
    if kind == "StatefulSet":
        body["serviceName"] = peer_service
        # Peers start together so the mesh can form; order matters to none of them.
        body["podManagementPolicy"] = "Parallel"
        body["updateStrategy"] = {"type": "RollingUpdate"}
        body["volumeClaimTemplates"] = claims
        # Scaling down or deleting the StatefulSet keeps the data.
        body["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    elif any(volume.stateful for volume in spec.volumes):
        # A ReadWriteOnce volume cannot be attached to the old and the new pod at once.
        body["strategy"] = {"type": "Recreate"}
    return body


def cron_job_spec(settings: StackSettings, spec: ServiceSpec, template: dict[str, Any]) -> dict[str, Any]:
    assert spec.schedule is not None
    template["spec"]["restartPolicy"] = "Never"
    return {
        "schedule": spec.schedule.cron,
        # The schedule reads in UTC on every platform (the Docker loop's clock).
        "timeZone": "Etc/UTC",
        # A run still going when the next is due is not doubled; a missed run starts up to an hour late.
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": CRON_STARTING_DEADLINE_S,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": common_labels(settings, spec)},
            "spec": {
                # One retry (a new pod); a failed run is on the Pushgateway either way.
                "backoffLimit": 1,
                "activeDeadlineSeconds": CRON_ACTIVE_DEADLINE_S,
                "template": template,
            },
        },
    }


def service_ports(spec: ServiceSpec) -> list[dict[str, Any]]:
    ports = [
        {"name": port.name, "port": port.container_port, "targetPort": port.container_port, "protocol": port.protocol}
        for port in spec.ports or ()
    ] or [{"name": "http", "port": spec.health.port, "targetPort": spec.health.port, "protocol": "TCP"}]
    if spec.health.scheme == "https":
        # The service's own port serves TLS (security.tls): say so to controllers reading appProtocol.
        for port in ports:
            if port["port"] == spec.health.port:
                port["appProtocol"] = "https"
    return ports


def service_spec(settings: StackSettings, spec: ServiceSpec, published: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": settings.kubernetes.service_type if published else "ClusterIP",
        "selector": selector_labels(settings, spec),
        "ports": service_ports(spec),
    }
    if spec.sticky_clients:
        body["sessionAffinity"] = "ClientIP"
    return body


def peer_service_spec(settings: StackSettings, spec: ServiceSpec) -> dict[str, Any]:
    ports = service_ports(spec)
    if spec.peers:
        ports += [
            {"name": p.name, "port": p.container_port, "targetPort": p.container_port, "protocol": p.protocol}
            for p in spec.peers.ports
        ]
    return {
        "clusterIP": "None",
        # Peers must find each other before they are ready (the mesh is what makes them ready).
        "publishNotReadyAddresses": True,
        "selector": selector_labels(settings, spec),
        "ports": ports,
    }


def api_rules(spec: ServiceSpec) -> list[dict[str, Any]]:
    return [
        {
            "apiGroups": [read.api_group],
            "resources": list(read.resources),
            "verbs": ["get"] if read.get_only else ["get", "list", "watch"],
        }
        for read in spec.api_reads
    ]


def write_rules(spec: ServiceSpec) -> list[dict[str, Any]]:
    """A namespaced Role's rules for the objects the service keeps: its verbs on each object by name,
    nothing else (no create, list, watch or delete; no other object of the kind)."""
    return [
        {"apiGroups": [""], "resources": [write.resource], "resourceNames": [write.name], "verbs": list(write.verbs)}
        for write in spec.api_writes
    ]


def disruption_budget(settings: StackSettings, spec: ServiceSpec) -> dict[str, Any] | None:
    if spec.replicas < 2 or spec.max_unavailable is None:
        return None
    return {"maxUnavailable": spec.max_unavailable, "selector": {"matchLabels": selector_labels(settings, spec)}}


def ingress_metadata(spec: ServiceSpec) -> dict[str, Any]:
    """Grafana serving HTTPS itself (security.tls): ingress-nginx must speak HTTPS to it (its
    annotation; the Service port's appProtocol says the same to controllers that read that)."""
    if spec.health.scheme != "https":
        return {}
    return {"annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"}}


def ingress_spec(settings: StackSettings, spec: ServiceSpec) -> dict[str, Any] | None:
    ingress = settings.kubernetes.ingress
    if ingress is None:
        return None
    port = service_ports(spec)[0]["port"]
    return {
        "ingressClassName": ingress.class_name,
        "tls": [{"hosts": [ingress.host], "secretName": ingress.tls_secret}],
        "rules": [
            {
                "host": ingress.host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": spec.name, "port": {"number": port}}},
                        }
                    ]
                },
            }
        ],
    }


def namespace_labels(level: str, version: str) -> dict[str, str]:
    """Pod Security admission: enforce the level; audit and warn at restricted so any widening shows."""
    labels = {"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": f"v{version}"}
    for mode in ("audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted" if level == "restricted" else level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = f"v{version}"
    return labels
