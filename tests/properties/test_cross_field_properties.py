"""Generated settings whose problem lies between keys: duplicate host ports, rollout states out of
order, platform-specific settings on the wrong platform. Each is judged by an oracle written here
from the README's rules; a bad combination fails with exactly one line per key at fault, each naming
its key (a section's cross-field problems are all reported, not the first alone). Mutation checked:
settings/errors.py `cross_field` raising only the first problem fails the rollout and host-port tests.

Derandomized (fixed seed per test, `print_blob` on failure) so a failure replays as is.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.properties.generators import BASES, Mutation, apply
from tests.properties.support import error_lines, key_of, replayable

ROLLOUT = ("node", "cadvisor", "dcgm", "vllm")
PROGRESS = {"off": None, "mock": 0, "shadow": 1, "real": 2}
PUBLISHABLE = ("grafana", "prometheus", "loki", "alertmanager", "api")


def out_of_order(modes: dict[str, str]) -> set[str]:
    """Exporters whose mode is ahead of an earlier one's in the rollout (off takes no part): one line each."""
    ahead = set()
    for index, earlier in enumerate(ROLLOUT):
        for later in ROLLOUT[index + 1 :]:
            a, b = PROGRESS[modes[earlier]], PROGRESS[modes[later]]
            if a is not None and b is not None and b > a:
                ahead.add(f"monitoring:exporters.{later}.mode")
    return ahead


def assert_one_line_per_key(lines: list[str], keys: set[str], raw) -> None:
    assert sorted(key_of(line) for line in lines) == sorted(keys), f"{raw}: {lines}"


@replayable(600)
@given(
    modes=st.fixed_dictionaries({name: st.sampled_from(sorted(PROGRESS)) for name in ROLLOUT}),
    allow_out_of_order=st.booleans(),
    vllm_targets=st.sampled_from([[], ["vllm-1:8000"]]),
)
def test_rollout_states(modes, allow_out_of_order, vllm_targets):
    exporters = {name: {"mode": mode} for name, mode in modes.items()}
    exporters["vllm"]["targets"] = vllm_targets
    exporters["allow_out_of_order"] = allow_out_of_order
    raw = {**BASES["staging"], "exporters": exporters}
    problems = set() if allow_out_of_order else out_of_order(modes)
    if not problems and modes["vllm"] in ("shadow", "real") and not vllm_targets:
        problems = {"monitoring:exporters.vllm.targets"}
    lines = error_lines(raw, "staging")
    if problems:
        assert_one_line_per_key(lines, problems, raw)
    else:
        assert lines == []


def clashes(publish: list[str], ports: dict[str, int]) -> set[str]:
    """The published services whose host port an earlier one in `publish` already has: one line each."""
    first = {}
    for service in publish:
        first.setdefault(ports[service], service)
    return {f"monitoring:{service}.port" for service in publish if first[ports[service]] != service}


@replayable(600)
@given(
    publish=st.lists(st.sampled_from(PUBLISHABLE[1:]), unique=True).map(lambda rest: ["grafana", *rest]),
    ports=st.fixed_dictionaries({name: st.sampled_from([3000, 3100, 9090, 9093]) for name in PUBLISHABLE}),
)
def test_host_ports_must_differ(publish, ports):
    raw = {**BASES["staging"], "exposure": {"publish": publish}}
    for service in PUBLISHABLE:
        raw[service] = {**raw.get(service, {}), "port": ports[service]}
    clashing = clashes(publish, ports)
    lines = error_lines(raw, "staging")
    if clashing:
        assert_one_line_per_key(lines, clashing, raw)
        assert all("is already the host port of" in line for line in lines), lines
    else:
        assert lines == []


# Settings that only one platform can honour, as (path, value, key the error must name or None
# when the other platform just does not read it).
ON_KUBERNETES_ONLY = [
    (("kubernetes", "ingress"), {"class_name": "nginx", "host": "grafana.example.org", "tls_secret": "grafana-tls"}, None),
    (("kubernetes", "discovery", "vllm", "namespaces"), ["llm"], None),
    (("kubernetes", "storage", "prometheus"), "500GB", None),
    (("kubernetes", "service_type"), "LoadBalancer", None),
]
ON_DOCKER_ONLY = [
    (("prometheus", "targets_dir"), "/srv/targets", "monitoring:prometheus.targets_dir"),
    (("docker", "subnet"), "10.10.0.0/24", None),
    (("traces", "publish_receivers"), False, None),
]


@replayable(300)
@given(
    platform=st.sampled_from(["docker", "kubernetes"]),
    chosen=st.lists(st.sampled_from(ON_KUBERNETES_ONLY + ON_DOCKER_ONLY), min_size=1, max_size=4, unique_by=lambda c: c[0]),
)
def test_settings_of_the_other_platform(platform, chosen):
    stack = "prod" if platform == "kubernetes" else "staging"
    foreign = ON_DOCKER_ONLY if platform == "kubernetes" else ON_KUBERNETES_ONLY
    raw = apply(BASES[stack], [Mutation("platform", path, value) for path, value, _ in chosen])
    refused = {key for entry in chosen if entry in foreign and (key := entry[2])}
    lines = error_lines(raw, stack)
    if refused:
        assert_one_line_per_key(lines, refused, raw)
        assert all("cluster" in line for line in lines), lines
    else:
        assert lines == [], raw
