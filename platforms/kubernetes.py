"""The Kubernetes platform: the same service descriptions as pulumi-kubernetes resources.

Per service: a ServiceAccount, a ConfigMap of its rendered documents (mounted read-only; a content
hash on the pod template rolls the pods when one changes), a Secret of its Pulumi secrets (mounted as
files), the workload (StatefulSet for replicas with their own identity and volumes, DaemonSet for
per-node agents, Deployment otherwise), a Service, a PodDisruptionBudget when replicated, least
privilege RBAC when it reads the cluster API, and a NetworkPolicy with exactly its flows. Shared: an
explicit provider, the `restricted` namespace and, when host agents run, their `privileged` one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from platforms.kubernetes_exceptions import scanner_annotations
from platforms.kubernetes_network import default_deny_spec, network_policy_spec, stack_flows
from platforms.kubernetes_objects import (
    ANNOTATION_EXCEPTION,
    claim_name,
    claim_spec,
    common_labels,
    config_key,
    config_map_name,
    disruption_budget,
    ingress_metadata,
    ingress_spec,
    namespace_labels,
    peer_service_spec,
    pod_security_level,
    secret_name,
    service_spec,
    api_rules,
    workload_kind,
    workload_spec,
    write_rules,
)
from render.gateway import published_as
from services.high_availability import peer_service
from services.spec import ServiceSpec
from settings.model import StackSettings

WORKLOADS = {
    "Deployment": k8s.apps.v1.Deployment,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "DaemonSet": k8s.apps.v1.DaemonSet,
    "CronJob": k8s.batch.v1.CronJob,
}
# Why the host agents' namespace is not `restricted` (shown on the namespace itself).
AGENTS_NAMESPACE_REASON = (
    "host agents only: the node exporter (host PID and network, host root read-only), the log collector "
    "(pod log files read-only through hostPath) and dcgm-exporter (GPUs, SYS_ADMIN); each states its reason"
)


@dataclass
class KubernetesPlatform:
    """Shared cluster resources of one stack, created once, used by every service component."""

    settings: StackSettings
    provider: k8s.Provider
    namespaces: dict[str, k8s.core.v1.Namespace]
    # Service name -> the namespace it runs in (its Pod Security level decides).
    namespace_of: dict[str, str]
    flows: list = field(default_factory=list)

    @classmethod
    def create(cls, settings: StackSettings, parent: pulumi.Resource, specs: Sequence[ServiceSpec]) -> "KubernetesPlatform":
        kubernetes = settings.kubernetes
        provider = k8s.Provider(
            "kubernetes",
            # Unset context: the kubeconfig's current context, or in a pod its service account.
            context=kubernetes.context,
            # Rendered documents change in place; the pod template's content hash rolls the pods.
            enable_config_map_mutable=True,
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        opts = pulumi.ResourceOptions(parent=parent, provider=provider, protect=settings.protect_state)
        levels = {spec.name: pod_security_level(spec) for spec in specs}
        namespace_of = {
            name: kubernetes.namespace if level == "restricted" else kubernetes.agents_namespace
            for name, level in levels.items()
        }
        namespaces = {
            kubernetes.namespace: k8s.core.v1.Namespace(
                "namespace",
                metadata={"name": kubernetes.namespace, "labels": namespace_labels("restricted", kubernetes.version)},
                opts=opts,
            )
        }
        if kubernetes.agents_namespace in namespace_of.values():
            agent_level = "privileged" if "privileged" in levels.values() else "baseline"
            namespaces[kubernetes.agents_namespace] = k8s.core.v1.Namespace(
                "agents-namespace",
                metadata={
                    "name": kubernetes.agents_namespace,
                    "labels": namespace_labels(agent_level, kubernetes.version),
                    "annotations": {ANNOTATION_EXCEPTION: AGENTS_NAMESPACE_REASON},
                },
                opts=opts,
            )
        platform = cls(settings, provider, namespaces, namespace_of, stack_flows(settings, specs))
        for index, namespace in enumerate(namespaces):
            k8s.networking.v1.NetworkPolicy(
                "default-deny" if index == 0 else "agents-default-deny",
                metadata={"name": "default-deny", "namespace": namespace},
                spec=default_deny_spec(),
                opts=platform._opts(parent, namespace),
            )
        platform._aliases_for_agents(parent, specs)
        return platform

    def _opts(self, parent: pulumi.Resource, namespace: str, **extra: Any) -> pulumi.ResourceOptions:
        depends_on = [self.namespaces[namespace], *extra.pop("depends_on", [])]
        return pulumi.ResourceOptions(parent=parent, provider=self.provider, depends_on=depends_on, **extra)

    def _aliases_for_agents(self, parent: pulumi.Resource, specs: Sequence[ServiceSpec]) -> None:
        """Agents in their own namespace reach the services they push to by the same short name the
        rendered documents use (`loki:3100`): an ExternalName Service per such dependency."""
        agents_namespace = self.settings.kubernetes.agents_namespace
        targets = sorted(
            {dep for spec in specs if self.namespace_of[spec.name] == agents_namespace for dep in spec.depends_on}
        )
        for target in targets:
            home = self.namespace_of.get(target, self.settings.kubernetes.namespace)
            k8s.core.v1.Service(
                f"{target}-alias",
                metadata={"name": target, "namespace": agents_namespace},
                spec={"type": "ExternalName", "externalName": f"{target}.{home}.svc.cluster.local"},
                opts=self._opts(parent, agents_namespace),
            )

    def deploy(
        self,
        spec: ServiceSpec,
        parent: pulumi.Resource,
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource] = (),
        built_image: pulumi.Resource | None = None,
    ) -> pulumi.CustomResource:
        settings = self.settings
        namespace = self.namespace_of[spec.name]
        opts = self._opts(parent, namespace)
        labels = common_labels(settings, spec)

        def metadata(name: str, **extra: Any) -> dict[str, Any]:
            return {"name": name, "namespace": namespace, "labels": labels, **extra}

        account = k8s.core.v1.ServiceAccount(
            spec.name,
            metadata=metadata(spec.name),
            # Only services that read (or keep an object through) the cluster API get a token at all.
            automount_service_account_token=bool(spec.api_reads or spec.api_writes),
            opts=opts,
        )
        needs: list[pulumi.Resource] = [account, *depends_on]
        if spec.api_reads:
            needs += self._rbac(spec, parent, namespace)
        if spec.api_writes:
            needs += self._kept_objects(spec, parent, namespace, metadata)
        if spec.files:
            needs.append(
                k8s.core.v1.ConfigMap(
                    f"{spec.name}-config",
                    metadata=metadata(config_map_name(spec)),
                    data={config_key(f.relpath): f.content for f in spec.files},
                    opts=opts,
                )
            )
        secret_keys = sorted({s.secret_key for s in spec.secret_files} | set(spec.secret_env.values()))
        if secret_keys:
            needs.append(
                k8s.core.v1.Secret(
                    f"{spec.name}-secrets",
                    metadata=metadata(secret_name(spec)),
                    type="Opaque",
                    string_data={key: secrets[key] for key in secret_keys},
                    opts=opts,
                )
            )
        kind = workload_kind(spec)
        protect = settings.protect_state and any(v.stateful for v in spec.volumes) and not spec.per_node
        if kind == "Deployment":
            for volume in spec.volumes:
                if volume.stateful:
                    needs.append(
                        k8s.core.v1.PersistentVolumeClaim(
                            claim_name(spec, volume.name),
                            metadata=metadata(claim_name(spec, volume.name)),
                            spec=claim_spec(settings, spec),
                            opts=self._opts(parent, namespace, protect=protect, retain_on_delete=protect),
                        )
                    )
        peers = peer_service(spec.name)
        if kind == "StatefulSet":
            k8s.core.v1.Service(
                f"{spec.name}-peers", metadata=metadata(peers), spec=peer_service_spec(settings, spec), opts=opts
            )
        # The gateway carries Loki's publication when it gates Loki (render/gateway.py).
        published = published_as(settings, spec.name) in settings.exposure.publish
        if kind != "CronJob":  # a scheduled job serves nothing
            k8s.core.v1.Service(spec.name, metadata=metadata(spec.name), spec=service_spec(settings, spec, published), opts=opts)
        budget = disruption_budget(settings, spec)
        if budget:
            k8s.policy.v1.PodDisruptionBudget(spec.name, metadata=metadata(spec.name), spec=budget, opts=opts)
        k8s.networking.v1.NetworkPolicy(
            spec.name,
            metadata=metadata(spec.name),
            spec=network_policy_spec(settings, spec.name, self.flows, self.namespace_of),
            opts=opts,
        )
        if spec.name == "grafana":
            ingress = ingress_spec(settings, spec)
            if ingress:
                k8s.networking.v1.Ingress(
                    spec.name, metadata=metadata(spec.name, **ingress_metadata(spec)), spec=ingress, opts=opts
                )

        image: Any = built_image.image_name if spec.built_image and built_image is not None else spec.image
        if spec.built_image and built_image is None:
            raise ValueError(f"{spec.name}: a built image must be passed for a service built from this repository")
        annotations = scanner_annotations(spec)
        if spec.security.exception:
            annotations[ANNOTATION_EXCEPTION] = spec.security.exception
        pod_annotations = {ANNOTATION_EXCEPTION: spec.security.exception} if spec.security.exception else {}
        return WORKLOADS[kind](
            spec.name,
            metadata=metadata(spec.name, annotations=annotations),
            spec=workload_spec(settings, spec, image, pod_annotations, peers),
            opts=self._opts(
                parent,
                namespace,
                protect=protect and kind == "StatefulSet",
                retain_on_delete=protect and kind == "StatefulSet",
                depends_on=[*needs, *([built_image] if built_image is not None else [])],
            ),
        )

    def _rbac(self, spec: ServiceSpec, parent: pulumi.Resource, namespace: str) -> list[pulumi.Resource]:
        """Read-only access to exactly what the service discovers, bound to its own ServiceAccount."""
        name = f"{self.settings.prefix}-{spec.name}"
        opts = pulumi.ResourceOptions(parent=parent, provider=self.provider)
        role = k8s.rbac.v1.ClusterRole(
            f"{spec.name}-reader",
            metadata={"name": name, "labels": common_labels(self.settings, spec)},
            rules=api_rules(spec),
            opts=opts,
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{spec.name}-reader",
            metadata={"name": name, "labels": common_labels(self.settings, spec)},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            subjects=[{"kind": "ServiceAccount", "name": spec.name, "namespace": namespace}],
            opts=pulumi.ResourceOptions(parent=parent, provider=self.provider, depends_on=[role]),
        )
        return [role, binding]

    def _kept_objects(self, spec: ServiceSpec, parent: pulumi.Resource, namespace: str, metadata) -> list[pulumi.Resource]:
        """The objects the service keeps itself (`ApiWrite`): each created empty once and never
        overwritten (`ignore_changes` on its data: a later `pulumi up` leaves the service's content),
        and a namespaced Role allowing its verbs on those objects alone, bound to its ServiceAccount."""
        opts = self._opts(parent, namespace)
        kept: list[pulumi.Resource] = []
        for write in spec.api_writes:
            if write.resource != "configmaps":
                raise ValueError(f"{spec.name}: only ConfigMaps can be kept through the Kubernetes API (not {write.resource})")
            kept.append(k8s.core.v1.ConfigMap(
                f"{spec.name}-{write.name}",
                metadata=metadata(write.name, annotations={"monitoring.io/written-by": spec.name}),
                data={},
                opts=self._opts(parent, namespace, ignore_changes=["data", "binaryData"]),
            ))
        name = f"{spec.name}-writer"
        role = k8s.rbac.v1.Role(f"{spec.name}-writer", metadata=metadata(name), rules=write_rules(spec), opts=opts)
        binding = k8s.rbac.v1.RoleBinding(
            f"{spec.name}-writer",
            metadata=metadata(name),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            subjects=[{"kind": "ServiceAccount", "name": spec.name, "namespace": namespace}],
            opts=self._opts(parent, namespace, depends_on=[role]),
        )
        return [*kept, role, binding]

    def internal_url(self, spec: ServiceSpec) -> str:
        namespace = self.namespace_of.get(spec.name, self.settings.kubernetes.namespace)
        return f"{spec.health.scheme}://{spec.name}.{namespace}.svc:{spec.health.port}"

    def external_url(self, spec: ServiceSpec) -> str | None:
        if spec.name == "grafana":
            return self.settings.grafana_url
        return None

    def workload_name(self, spec: ServiceSpec, workload: pulumi.CustomResource) -> pulumi.Output[str]:
        return pulumi.Output.from_input(f"{self.namespace_of[spec.name]}/{spec.name}")
