"""Scrape jobs for the exporters of a stack, following each exporter's rollout mode.

Every exporter series carries `exporter`, `source` (`mock` | `real`) and `env`, set by relabeling so
that targets from file_sd files get them too. Real exporters are job `<exporter>`, mocks job
`<exporter>-mock`: dashboards and rules select on `exporter=`, never on the job name.
"""

from __future__ import annotations

from typing import Any

from exporters.catalog import EXPORTERS, PROBE_PATH, SCRAPE_CLASSES
from render.kubernetes_sd import kubelet_cadvisor, stack_pods, vllm_pods
from services.topology import EXPORTER_ALIASES, Endpoints
from settings.model import StackSettings

FILE_SD_DIR = "/etc/prometheus/targets"
BLACKBOX_MODULES = {"http": "http_2xx", "tcp": "tcp_connect"}

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
              targets: list[str]) -> dict[str, Any]:
    """How a job finds its targets: the stack's own service for the exporter (the mock, or the real
    exporter when the stack deploys it) and the user's `targets`, static addresses on any platform.

    On Docker the service is an address on the stack network. On Kubernetes its pods are discovered
    (render.kubernetes_sd), real cAdvisor is every kubelet's `/metrics/cadvisor` and real vLLM the
    user's pods matching `kubernetes.discovery.vllm`; the discovery's relabeling comes along (it goes
    first in the job's relabel_configs) with any job fields it needs (scheme, credentials)."""
    runs_service = source == "mock" or exporter in deployed_exporters(settings)
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


def _job(settings: StackSettings, endpoints: Endpoints, exporter: str, source: str, targets: list[str]) -> dict[str, Any]:
    spec = EXPORTERS[exporter]
    found = discovery(settings, endpoints, exporter, source, targets)
    job: dict[str, Any] = {
        "job_name": exporter if source == "real" else f"{exporter}-mock",
        "scrape_interval": _interval(settings, exporter),
        "metrics_path": spec.metrics_path,
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
            job = _job(settings, endpoints, exporter, "real", list(getattr(settings.exporters, exporter).targets))
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

        http = [f"{endpoints[name].url}{path}" for name, path in HEALTH_PATHS.items() if name in endpoints] + http
    return {"http": http, "tcp": list(blackbox.tcp_probes)}


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
                "static_configs": [{"targets": targets}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
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


def render_blackbox_config() -> dict[str, Any]:
    """blackbox.yml: the probe modules the probe jobs use."""
    return {
        "modules": {
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
    }
