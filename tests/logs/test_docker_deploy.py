"""What a real `pulumi up` on Docker does with the log collector, reproduced without an engine.

A small model of the three things that decide whether the collector starts and reads its sources:
- the images' own directories (from their Dockerfiles at the pinned tags),
- Docker's named volumes: an empty new volume mounted over an image directory takes that
  directory's owner and mode (moby `copyExistingContents`/`copyOwnership`); over a path the image
  lacks, its root stays root:root 0755; a bind mount whose host path is missing is an error;
- Linux permission checks: root bypasses file modes only with CAP_DAC_OVERRIDE (read and search
  also with CAP_DAC_READ_SEARCH); without them, and for every other uid, owner/group/other bits.
The host's files are a Debian host's, with their documented owners and modes.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

import pytest
import yaml

from logs.alloy_syntax import parse
from logs.pipeline import DOCKER_SOCKET
from logs.promtail import POSITIONS_FILE
from services.collector import collector_service, host_mounts
from services.spec import Security, ServiceSpec, VolumeSpec
from services.topology import internal_endpoints
from tests.logs.conftest import settings_for


@dataclass(frozen=True)
class Node:
    uid: int
    gid: int
    mode: int


ROOT_DIR = Node(0, 0, 0o755)
# grafana/alloy Dockerfile (v1.10.2 to v1.11.3): `useradd -u 473`, `mkdir -p /var/lib/alloy/data`,
# `chown -R alloy:alloy /var/lib/alloy`, `chmod -R 770 /var/lib/alloy`; no USER line, so root runs.
# grafana/promtail (clients/cmd/promtail/Dockerfile, v3.5.3): no /var/lib/promtail, no USER line.
IMAGE_DIRS = {
    "alloy": {"/var/lib/alloy": Node(473, 473, 0o770), "/var/lib/alloy/data": Node(473, 473, 0o770)},
    "promtail": {},
}
# A Debian host's groups differ per host: only their names are known, so they get ids here that no
# container process is given.
DOCKER_GID, SYSTEMD_JOURNAL_GID = 989, 990
HOST_FILES = {
    # docker.socket: SocketMode=0660, SocketGroup=docker.
    DOCKER_SOCKET: Node(0, DOCKER_GID, 0o660),
    # systemd tmpfiles: journal files root:systemd-journal 0640 in 2755 directories.
    "/var/log/journal": Node(0, SYSTEMD_JOURNAL_GID, 0o2755),
    "/var/log/journal/<machine-id>/system.journal": Node(0, SYSTEMD_JOURNAL_GID, 0o640),
    "/run/log/journal": Node(0, SYSTEMD_JOURNAL_GID, 0o2755),
    "/run/log/journal/<machine-id>/system.journal": Node(0, SYSTEMD_JOURNAL_GID, 0o640),
    "/etc/machine-id": Node(0, 0, 0o444),
}
# Promtail writes its positions file with mode 0600 (positions.go, v3.5.3), as the user it runs as.
PROMTAIL_POSITIONS_MODE = 0o600
READ, WRITE_SEARCH = 0o4, 0o3


@dataclass(frozen=True)
class Process:
    uid: int
    gids: frozenset[int]
    dac_override: bool


def process(security: Security) -> Process:
    """The container's process credentials: no `user` keeps the image's (root for both images)."""
    uid, gid = (int(part) for part in (security.user or "0:0").split(":"))
    dropped = "ALL" in security.drop_capabilities or "DAC_OVERRIDE" in security.drop_capabilities
    # Capabilities of a non-root user are not effective (Docker sets no ambient capabilities).
    dac = uid == 0 and (not dropped or "DAC_OVERRIDE" in security.add_capabilities or security.privileged)
    return Process(uid, frozenset({gid}), dac)


def allowed(proc: Process, node: Node, want: int) -> bool:
    if proc.dac_override:
        return True
    if proc.uid == node.uid:
        bits = node.mode >> 6
    elif node.gid in proc.gids:
        bits = node.mode >> 3
    else:
        bits = node.mode
    return bits & want == want


def volume_root(image: str, volume: VolumeSpec) -> Node:
    """The owner and mode of a new, empty named volume's root once mounted (Docker's copy-up)."""
    return IMAGE_DIRS[image].get(volume.mount_path, ROOT_DIR)


def state_path(spec: ServiceSpec) -> str:
    """Where the collector writes its positions: Alloy's --storage.path, Promtail's positions file's directory."""
    if spec.name == "alloy":
        return next(arg.split("=", 1)[1] for arg in spec.command if arg.startswith("--storage.path="))
    return posixpath.dirname(yaml.safe_load(spec.file("promtail.yml").content)["positions"]["filename"])


def can_write_state(spec: ServiceSpec) -> bool:
    path = state_path(spec)
    owned = [v for v in spec.volumes if not v.borrowed_from]
    volume = next((v for v in owned if path == v.mount_path or path.startswith(v.mount_path + "/")), None)
    assert volume is not None, f"{spec.name} writes {path}, which is on no volume of its own"
    return allowed(process(spec.security), volume_root(spec.name, volume), WRITE_SEARCH)


def unreadable_sources(spec: ServiceSpec) -> list[str]:
    """Host files under the collector's bind mounts that its process may not read."""
    proc = process(spec.security)
    return [
        path
        for mount in spec.host_mounts
        for path, node in HOST_FILES.items()
        if (path == mount.host_path or path.startswith(mount.host_path + "/")) and not allowed(proc, node, READ)
    ]


def missing_bind_sources(spec: ServiceSpec, host_paths: set[str]) -> list[str]:
    """Bind mounts Docker's mount API refuses: `bind source path does not exist: <path>`."""
    return [mount.host_path for mount in spec.host_mounts if mount.host_path not in host_paths]


def collector(stack: str, name: str, **logs: object) -> ServiceSpec:
    """The collector's service as the Docker platform deploys it (whatever platform the stack file names)."""
    return collector_service(settings_for(stack, platform="docker", collector=name, **logs), internal_endpoints())


@pytest.mark.parametrize("name", ["alloy", "promtail"])
def test_the_collector_can_write_its_positions_and_read_its_sources(stack, name):
    """On a fresh Debian host with the pinned images, each collector writes its state and reads
    the Docker socket and the journal.

    Mutation caught: Alloy's storage volume mounted back at the image's /var/lib/alloy/data while
    the container runs as 0:0 with every capability dropped (the old behaviour: the new volume takes
    473:473 0770 and root has no override, so Alloy exits on its first write); or Alloy run as its
    image user 473 without the host's docker and systemd-journal groups (it then cannot read them).
    """
    spec = collector(stack, name)
    assert can_write_state(spec), f"{name} cannot write {state_path(spec)}"
    assert unreadable_sources(spec) == []


def test_the_model_fails_the_old_alloy_deployment(stack):
    """The old Alloy shape — storage on the image's /var/lib/alloy/data, run as 0:0, ALL dropped —
    is judged unwritable, and the image user without host groups cannot read its sources."""
    spec = collector(stack, "alloy")
    old_command = tuple(re.sub(r"^--storage\.path=.*", "--storage.path=/var/lib/alloy/data", arg) for arg in spec.command)
    old = ServiceSpec(**{**spec.__dict__, "command": old_command, "volumes": (VolumeSpec("data", "/var/lib/alloy/data"),)})
    assert old.security.user == "0:0" and "ALL" in old.security.drop_capabilities
    assert not can_write_state(old)
    as_image_user = ServiceSpec(**{**spec.__dict__, "security": Security(user="473:473")})
    assert DOCKER_SOCKET in unreadable_sources(as_image_user)
    assert "/var/log/journal/<machine-id>/system.journal" in unreadable_sources(as_image_user)


def test_alloy_can_read_promtails_positions_where_its_config_looks_for_them(stack):
    """The Promtail→Alloy handover: Alloy mounts Promtail's positions volume read-only at the path
    its config names, the file there is Promtail's own positions file, and Alloy's user may read it
    (Promtail wrote it as its own user with mode 0600).

    Mutation caught: dropping the borrowed volume, pointing `legacy_positions_file` elsewhere, or
    running Alloy as a user other than Promtail's (the file would be unreadable and every file
    re-read from its start).
    """
    alloy = collector(stack, "alloy", files=[{"path": "/var/log/syslog"}])
    promtail = collector(stack, "promtail")
    blocks = parse(alloy.file("config.alloy").content)
    file_reader = next(b for b in blocks if b.name == "loki.source.file")
    journal_reader = next(b for b in blocks if b.name == "loki.source.journal")
    (legacy_cursor,) = journal_reader.children("legacy_position")
    assert file_reader.attributes["legacy_positions_file"] == legacy_cursor.attributes["file"] == POSITIONS_FILE
    # Promtail stores the journal cursor under its journal job's name.
    promtail_jobs = [job["job_name"] for job in yaml.safe_load(promtail.file("promtail.yml").content)["scrape_configs"]]
    assert legacy_cursor.attributes["name"] == journal_reader.label and journal_reader.label in promtail_jobs
    assert yaml.safe_load(promtail.file("promtail.yml").content)["positions"]["filename"] == POSITIONS_FILE
    (borrowed,) = [v for v in alloy.volumes if v.borrowed_from]
    (promtails,) = promtail.volumes
    assert (borrowed.borrowed_from, borrowed.name) == ("promtail", promtails.name)
    assert POSITIONS_FILE.startswith(borrowed.mount_path + "/") and promtails.mount_path == borrowed.mount_path
    positions_file = Node(process(promtail.security).uid, 0, PROMTAIL_POSITIONS_MODE)
    assert allowed(process(alloy.security), positions_file, READ)


@pytest.mark.parametrize("name", ["alloy", "promtail"])
def test_collector_volumes_outlive_a_switch_and_never_block_it(name):
    """Switching collectors removes one service: its state must not be protected (Pulumi refuses to
    delete a protected resource removed from the program) yet must stay on the host for the other."""
    spec = collector("prod", name)
    for volume in spec.volumes:
        assert volume.borrowed_from or volume.outlives_service, volume


DEBIAN_PERSISTENT = {DOCKER_SOCKET, "/var/log/journal", "/etc/machine-id"}
DEBIAN_VOLATILE = {DOCKER_SOCKET, "/run/log/journal", "/etc/machine-id"}


@pytest.mark.parametrize("name", ["alloy", "promtail"])
def test_a_host_with_a_volatile_journal_is_one_setting_away(name):
    """Docker refuses a bind mount of a missing host path. On a host whose journald keeps the
    journal in /run/log/journal only, the default fails, `journal_path` fixes it and both renderings
    then read that directory; `journal: false` mounts no journal at all.

    Mutation caught: the journal directory hard-coded again (in the mounts or in a rendering).
    """
    assert missing_bind_sources(collector("staging", name), DEBIAN_PERSISTENT) == []
    assert missing_bind_sources(collector("staging", name), DEBIAN_VOLATILE) == ["/var/log/journal"]
    volatile = collector("staging", name, journal_path="/run/log/journal")
    assert missing_bind_sources(volatile, DEBIAN_VOLATILE) == []
    assert unreadable_sources(volatile) == []
    content = volatile.files[0].content
    if name == "alloy":
        journal = next(b for b in parse(content) if b.name == "loki.source.journal")
        assert journal.attributes["path"] == "/run/log/journal"
    else:
        job = next(j for j in yaml.safe_load(content)["scrape_configs"] if j["job_name"] == "journal")
        assert job["journal"]["path"] == "/run/log/journal"
    assert "/var/log/journal" not in content
    assert missing_bind_sources(collector("staging", name, journal=False), {DOCKER_SOCKET}) == []


def test_host_mounts_follow_the_journal_path():
    mounts = {m.host_path: m.mount_path for m in host_mounts(settings_for("staging", journal_path="/run/log/journal"))}
    assert mounts["/run/log/journal"] == "/run/log/journal" and "/var/log/journal" not in mounts
