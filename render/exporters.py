"""Scrape jobs for the exporters of a stack, following each exporter's rollout mode.

Every exporter series carries `exporter`, `source` (`mock` | `real`) and `env`, set by relabeling so
that targets from file_sd files get them too. Real exporters are job `<exporter>`, mocks job
`<exporter>-mock`: dashboards and rules select on `exporter=`, never on the job name.
"""

from __future__ import annotations

import copy
from typing import Any

from exporters.catalog import EXPORTERS, PROBE_PATH, SCRAPE_CLASSES
from render.kubernetes_sd import kubelet_cadvisor, stack_pods, vllm_pods
from services.topology import EXPORTER_ALIASES, Endpoints
from render.gateway import client_url, gated
from render.tls_clients import prometheus_client, serves_tls, service_url
from render.web_config import CA_FILE, CLIENT_PASSWORD_FILE, SECRETS_DIR, auth_on, tls_on
from settings.model import StackSettings

FILE_SD_DIR = "/etc/prometheus/targets"
BLACKBOX_MODULES = {"http": "http_2xx", "tcp": "tcp_connect"}
# The module probing the stack's own endpoints when they serve TLS (render_blackbox_config).
STACK_PROBE_MODULE = "http_2xx_stack"
PROBE_MODULE_LABEL = "__tmp_probe_module"

# Cardinality guards: a scrape returning more samples than this fails as a whole (and alerts).
SAMPLE_LIMITS = {
    "node": 20_000,
    "cadvisor": 60_000,
    "dcgm": 10_000,
    "vllm": 10_000,
    "postgres": 20_000,
    "redis": 10_000,
    "blackbox": 1_000,
    "pushgateway": 50_000,
}
LABEL_LIMITS = {"label_limit": 64, "label_name_length_limit": 128, "label_value_length_limit": 2048}

# Families or series that cost much and that no rule or dashboard reads.
DROPPED = {
    "node": [
        # Pseudo and container filesystems multiply series per mount without telling anything.
        {"source_labels": ["__name__", "fstype"], "regex": "node_filesystem_.+;(tmpfs|overlay|squashfs|nsfs|ramfs)",
         "action": "drop"},
    ],
    "cadvisor": [
        {"source_labels": ["__name__"], "regex": "container_(tasks_state|blkio_device_usage_total)",
         "action": "drop"},
    ],
}


def endpoint(endpoints: Endpoints, key: str) -> str:
    if key not in endpoints:
        raise KeyError(
            f"no endpoint for {key!r}: pass internal_endpoints(settings), or local endpoints for every exporter "
            "the settings enable (set the others' mode to off)"
        )
    return endpoints[key].address


def fixed_labels(labels: dict[str, str]) -> list[dict[str, Any]]:
    """Relabeling that gives every target of a job the same values of `labels`."""
    return [{"target_label": name, "replacement": value, "action": "replace"} for name, value in labels.items()]


def _source_labels(settings: StackSettings, exporter: str, source: str) -> list[dict[str, Any]]:
    return fixed_labels({"exporter": exporter, "source": source, "env": settings.environment})


def _interval(settings: StackSettings, exporter: str) -> str:
    return getattr(settings.exporters, exporter).scrape_interval or SCRAPE_CLASSES[EXPORTERS[exporter].scrape_class]


def exporter_service(exporter: str, source: str) -> str:
    """The name of the stack service running an exporter (or its mock): its Docker network alias, and
    on Kubernetes its pods' `app.kubernetes.io/name`."""
    if source == "mock":
        return f"mock-{exporter}"
    return "node-exporter" if exporter == "node" else EXPORTER_ALIASES[exporter]


def discovery(settings: StackSettings, endpoints: Endpoints, exporter: str, source: str,
              targets: list[str], with_service: bool = True) -> dict[str, Any]:
    """How a job finds its targets: the stack's own service for the exporter (the mock, or the real
    exporter when the stack deploys it) and the user's `targets`, static addresses on any platform.

    On Docker the service is an address on the stack network. On Kubernetes its pods are discovered
    (render.kubernetes_sd), real cAdvisor is every kubelet's `/metrics/cadvisor` and real vLLM the
    user's pods matching `kubernetes.discovery.vllm`; the discovery's relabeling comes along (it goes
    first in the job's relabel_configs) with any job fields it needs (scheme, credentials)."""
    runs_service = with_service and (source == "mock" or exporter in deployed_exporters(settings))
    if settings.platform == "docker":
        addresses = ([endpoint(endpoints, f"mock-{exporter}" if source == "mock" else exporter)] if runs_service else [])
        addresses += targets
        return {"static_configs": [{"targets": addresses}] if addresses else []}
    found: dict[str, Any] = {}
    if source == "real" and exporter == "cadvisor":
        found = kubelet_cadvisor(settings)
    elif source == "real" and exporter == "vllm":
        found = vllm_pods(settings) if settings.kubernetes.discovery.vllm.namespaces else {}
    elif runs_service:
        found = stack_pods(settings, exporter_service(exporter, source), EXPORTERS[exporter].port)
    return {**found, **({"static_configs": [{"targets": targets}]} if targets else {})}


def has_targets(job: dict[str, Any]) -> bool:
    return any(job.get(key) for key in ("static_configs", "file_sd_configs", "kubernetes_sd_configs"))


def _job(settings: StackSettings, endpoints: Endpoints, exporter: str, source: str, targets: list[str],
         job_name: str | None = None, with_service: bool = True) -> dict[str, Any]:
    spec = EXPORTERS[exporter]
    found = discovery(settings, endpoints, exporter, source, targets, with_service)
    # The stack's own exporter, or its mock (`mock-<exporter>`), serves TLS and basic auth when
    # security.tls says so (all but cAdvisor: render.tls_clients.serves_tls).
    secured = with_service and (source == "mock" or exporter in deployed_exporters(settings))
    client_key = exporter_service(exporter, source) if source == "mock" else exporter
    job: dict[str, Any] = {
        "job_name": job_name or (exporter if source == "real" else f"{exporter}-mock"),
        "scrape_interval": _interval(settings, exporter),
        "metrics_path": spec.metrics_path,
        **(prometheus_client(settings, client_key) if secured else {}),
        **found,
        "relabel_configs": found.get("relabel_configs", []) + _source_labels(settings, exporter, source),
        "sample_limit": SAMPLE_LIMITS[exporter],
        **LABEL_LIMITS,
    }
    if source == "real" and settings.prometheus.targets_dir:
        job["file_sd_configs"] = [{"files": [f"{FILE_SD_DIR}/{exporter}/*.yml"], "refresh_interval": "1m"}]
    if exporter in DROPPED or "metric_relabel_configs" in found:
        job["metric_relabel_configs"] = DROPPED.get(exporter, []) + found.get("metric_relabel_configs", [])
    if exporter == "pushgateway":
        # Pushed series keep the job/instance labels of the batch job that pushed them.
        job["honor_labels"] = True
    return job


def deployed_exporters(settings: StackSettings) -> list[str]:
    """Real exporters this stack runs itself (vLLM servers are the user's, never deployed)."""
    return [name for name, spec in EXPORTERS.items() if spec.image and settings.exporters.runs_real(name)]


def mocked_exporters(settings: StackSettings) -> list[str]:
    return [name for name, spec in EXPORTERS.items() if spec.has_mock and settings.exporters.runs_mock(name)]


def exporter_scrape_jobs(settings: StackSettings, endpoints: Endpoints) -> list[dict[str, Any]]:
    jobs = []
    for exporter in EXPORTERS:
        if settings.exporters.runs_mock(exporter) and EXPORTERS[exporter].has_mock:
            jobs.append(_job(settings, endpoints, exporter, "mock", []))
        if settings.exporters.runs_real(exporter):
            targets = list(getattr(settings.exporters, exporter).targets)
            if targets and serves_tls(settings, exporter) and exporter in deployed_exporters(settings):
                # The user's own servers need not share the stack's CA and users: a job of their own
                # (same labels; rules and dashboards select on `exporter`, never on the job).
                jobs.append(_job(settings, endpoints, exporter, "real", []))
                jobs.append(_job(settings, endpoints, exporter, "real", targets, f"{exporter}-targets", with_service=False))
                continue
            job = _job(settings, endpoints, exporter, "real", targets)
            if has_targets(job):
                jobs.append(job)
    if settings.exporters.blackbox.mode == "real":
        jobs += blackbox_probe_jobs(settings, endpoints)
    if settings.prometheus.federation:
        jobs.append(federation_job(settings))
    return jobs


def probe_targets(settings: StackSettings, endpoints: Endpoints) -> dict[str, list[str]]:
    blackbox = settings.exporters.blackbox
    http = list(blackbox.http_probes)
    if blackbox.probe_stack:
        from services.topology import HEALTH_PATHS

        http = _stack_health_urls(settings, endpoints) + http
    return {"http": http, "tcp": list(blackbox.tcp_probes)}


def _stack_health_urls(settings: StackSettings, endpoints: Endpoints, tls_only: bool = False) -> list[str]:
    from services.topology import HEALTH_PATHS

    # Loki, Tempo and Pyroscope through the gateway when security.auth gates them (render/gateway.py).
    return [f"{client_url(settings, endpoints, name)}{path}" for name, path in HEALTH_PATHS.items()
            if name in endpoints and (serves_tls(settings, name) or gated(settings, name) or not tls_only)]


def stack_probe_targets(settings: StackSettings, endpoints: Endpoints) -> list[str]:
    """The stack's own TLS endpoints among the http probes (probed with the stack's CA and client user);
    only those serving TLS, since the module sends the client user's password."""
    return _stack_health_urls(settings, endpoints, tls_only=True) if settings.exporters.blackbox.probe_stack else []


def _probe_groups(settings: StackSettings, endpoints: Endpoints, kind: str, targets: list[str]) -> list[dict[str, Any]]:
    """Target groups of a probe job: with TLS on, the stack's own endpoints get the module holding
    the CA and the client user, so no credential goes to the user's URLs. The group's label becomes
    `__param_module` by relabeling: a group's `__param_module` itself loses to the job's `params` in
    Prometheus 2.x (it wins from 3.0)."""
    own = stack_probe_targets(settings, endpoints) if kind == "http" and tls_on(settings) else []
    if not own:
        return [{"targets": targets}]
    others = [target for target in targets if target not in own]
    return [{"targets": own, "labels": {PROBE_MODULE_LABEL: STACK_PROBE_MODULE}}] + ([{"targets": others}] if others else [])


def _module_relabeling(settings: StackSettings, kind: str) -> list[dict[str, Any]]:
    if kind != "http" or not tls_on(settings) or not settings.exporters.blackbox.probe_stack:
        return []
    return [{"source_labels": [PROBE_MODULE_LABEL], "regex": "(.+)", "target_label": "__param_module",
             "replacement": "$1", "action": "replace"}]


def blackbox_probe_jobs(settings: StackSettings, endpoints: Endpoints) -> list[dict[str, Any]]:
    jobs = []
    for kind, targets in probe_targets(settings, endpoints).items():
        if not targets:
            continue
        jobs.append(
            {
                "job_name": f"blackbox-{kind}",
                "metrics_path": PROBE_PATH,
                "params": {"module": [BLACKBOX_MODULES[kind]]},
                "static_configs": _probe_groups(settings, endpoints, kind, targets),
                **prometheus_client(settings, "blackbox"),
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    *_module_relabeling(settings, kind),
                    {"target_label": "__address__", "replacement": endpoint(endpoints, "blackbox")},
                    {"target_label": "probe", "replacement": kind},
                    *_source_labels(settings, "blackbox", "real"),
                ],
                "sample_limit": SAMPLE_LIMITS["blackbox"],
                **LABEL_LIMITS,
            }
        )
    return jobs


def federation_job(settings: StackSettings) -> dict[str, Any]:
    federation = settings.prometheus.federation
    return {
        "job_name": "federate",
        "scrape_interval": federation.scrape_interval,
        "honor_labels": True,
        "metrics_path": "/federate",
        "params": {"match[]": list(federation.match)},
        "static_configs": [{"targets": list(federation.targets)}],
    }


def render_blackbox_config(settings: StackSettings | None = None, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """blackbox.yml: the probe modules the probe jobs use (with TLS on, one more for the stack's own
    endpoints: their CA, and the client user where the service asks for it)."""
    modules = _blackbox_modules()
    if settings is not None and tls_on(settings):
        stack_http = copy.deepcopy(modules["http_2xx"])
        stack_http["http"]["tls_config"] = {"ca_file": f"{secrets_dir}/{CA_FILE}"}
        if auth_on(settings):
            stack_http["http"]["basic_auth"] = {
                "username": settings.security.auth.client_user,
                "password_file": f"{secrets_dir}/{CLIENT_PASSWORD_FILE}",
            }
        modules[STACK_PROBE_MODULE] = stack_http
    return {"modules": modules}


def _blackbox_modules() -> dict[str, Any]:
    return {
            "http_2xx": {
                "prober": "http",
                "timeout": "5s",
                "http": {
                    "method": "GET",
                    "valid_status_codes": [],  # empty means any 2xx
                    "preferred_ip_protocol": "ip4",
                    "follow_redirects": True,
                    "fail_if_ssl": False,
                },
            },
            "tcp_connect": {"prober": "tcp", "timeout": "5s", "tcp": {"preferred_ip_protocol": "ip4"}},
        }
