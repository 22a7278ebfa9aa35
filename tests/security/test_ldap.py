"""Grafana's LDAP sign-in, with the rendered ldap.toml, against a real OpenLDAP (Debian's slapd on a
free loopback port with a directory this test creates): the service account binds with the rendered
bind DN and its password file, the rendered user search finds each user, the user's own password
binds, the rendered group search finds the user's groups, and the rendered group mappings give each
user the role the settings map (first match, then `*`) - the steps Grafana's LDAP login takes."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from render.grafana_auth import render_ldap_toml
from settings import parse_settings
from tests.e2e.procs import Processes, free_port, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("slapd", path="/usr/sbin") or not shutil.which("ldapsearch"),
                       reason="slapd and ldap-utils (scripts/setup.sh installs them)"),
]

SUFFIX = "dc=example,dc=com"
BIND_DN = f"cn=grafana,ou=services,{SUFFIX}"
BIND_PASSWORD = "bind-secret-for-tests"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
GROUPS = {"admins": ["alice"], "editors": ["bob", "alice"]}
ROLE_MAPPING = {f"cn=admins,ou=groups,{SUFFIX}": "Admin", f"cn=editors,ou=groups,{SUFFIX}": "Editor"}
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")


def directory_ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: example\ndc: example",
        *(f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}" for ou in ("people", "groups", "services")),
        f"dn: {BIND_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: grafana\n"
        f"userPassword: {BIND_PASSWORD}",
    ]
    for user, password in USERS.items():
        entries.append(
            f"dn: uid={user},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user.title()} Example\n"
            f"sn: Example\nmail: {user}@example.com\nuserPassword: {password}"
        )
    for index, (group, members) in enumerate(GROUPS.items()):
        entries.append(
            f"dn: cn={group},ou=groups,{SUFFIX}\nobjectClass: posixGroup\ncn: {group}\ngidNumber: {2000 + index}\n"
            + "\n".join(f"memberUid: {member}" for member in members)
        )
    return "\n\n".join(entries) + "\n"


def slapd_conf(workdir: Path) -> str:
    includes = "\n".join(f"include /etc/ldap/schema/{schema}.schema" for schema in SCHEMAS)
    return f"""{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "cn=admin,{SUFFIX}"
directory {workdir}/data
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{BIND_DN}" read by * none
"""


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slapd")
    (workdir / "data").mkdir()
    conf = workdir / "slapd.conf"
    conf.write_text(slapd_conf(workdir))
    (workdir / "directory.ldif").write_text(directory_ldif())
    subprocess.run(["/usr/sbin/slapadd", "-f", str(conf), "-l", str(workdir / "directory.ldif")], check=True,
                   capture_output=True)
    port = free_port()
    settings = parse_settings(
        {
            "security": {
                "sso": {
                    "ldap": {
                        "host": "127.0.0.1",
                        "port": port,
                        "security": "plain",
                        "bind_dn": BIND_DN,
                        "search_base_dns": [f"ou=people,{SUFFIX}"],
                        "group_search_base_dns": [f"ou=groups,{SUFFIX}"],
                    },
                    "role_mapping": ROLE_MAPPING,
                    "default_role": "Viewer",
                }
            }
        },
        "ldap-e2e",
    )
    secrets = workdir / "secrets"
    secrets.mkdir()
    (secrets / "grafana_ldap_bind_password").write_text(BIND_PASSWORD)
    document = tomllib.loads(render_ldap_toml(settings, secrets_dir=str(secrets)))
    processes = Processes()
    try:
        processes.start(["/usr/sbin/slapd", "-d", "0", "-h", f"ldap://127.0.0.1:{port}/", "-f", str(conf)],
                        workdir / "slapd.log")
        wait_until(lambda: ldapsearch(port, BIND_DN, BIND_PASSWORD, SUFFIX, "(objectClass=*)", check=False).returncode == 0,
                   20, f"slapd on {port}")
        yield document["servers"][0]
    finally:
        processes.stop_all()


def ldapsearch(port: int, bind_dn: str, password: str, base: str, query: str, *attributes: str,
               check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", f"ldap://127.0.0.1:{port}", "-D", bind_dn,
         "-w", password, "-b", base, query, *attributes],
        capture_output=True, text=True, timeout=10, check=check,
    )


def entries(ldif: str) -> list[dict[str, list[str]]]:
    found = []
    for block in ldif.strip().split("\n\n"):
        if not block.strip():
            continue
        entry: dict[str, list[str]] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            entry.setdefault(key, []).append(value)
        found.append(entry)
    return found


def bind_password(server: dict) -> str:
    """What Grafana's `$__file{...}` expansion gives for the rendered bind password."""
    path = re.fullmatch(r"\$__file\{(.+)\}", server["bind_password"]).group(1)
    return Path(path).read_text()


def grafana_login(server: dict, user: str, password: str) -> str | None:
    """The org role Grafana's LDAP login gives `user`, following the rendered server entry; None
    when the user is not found or the password is wrong."""
    port = server["port"]
    password_of_service = bind_password(server)
    attributes = server["attributes"]
    filter_ = server["search_filter"].replace("%s", user)
    found = [e for base in server["search_base_dns"]
             for e in entries(ldapsearch(port, server["bind_dn"], password_of_service, base, filter_,
                                         attributes["username"], attributes["email"], attributes["name"]).stdout)]
    if len(found) != 1:
        return None
    user_dn = found[0]["dn"][0]
    if subprocess.run(["ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{port}", "-D", user_dn, "-w", password],
                      capture_output=True, timeout=10).returncode != 0:
        return None
    member = found[0][server["group_search_filter_user_attribute"]][0]
    group_filter = server["group_search_filter"].replace("%s", member)
    groups = {e["dn"][0] for base in server["group_search_base_dns"]
              for e in entries(ldapsearch(port, server["bind_dn"], password_of_service, base, group_filter, "dn").stdout)}
    for mapping in server["group_mappings"]:
        if mapping["group_dn"] == "*" or mapping["group_dn"] in groups:
            return mapping["org_role"]
    return None


def test_the_rendered_service_account_binds_and_a_wrong_password_does_not(ldap):
    assert ldapsearch(ldap["port"], ldap["bind_dn"], bind_password(ldap), SUFFIX, "(uid=alice)", "uid").stdout
    assert ldapsearch(ldap["port"], ldap["bind_dn"], "wrong", SUFFIX, "(uid=alice)", check=False).returncode != 0


@pytest.mark.parametrize("user, role", [("alice", "Admin"), ("bob", "Editor"), ("carol", "Viewer")])
def test_users_are_found_and_their_groups_map_to_roles(ldap, user, role):
    assert grafana_login(ldap, user, USERS[user]) == role


def test_a_wrong_user_password_or_an_unknown_user_signs_nobody_in(ldap):
    assert grafana_login(ldap, "alice", "not-her-password") is None
    assert grafana_login(ldap, "mallory", "anything") is None


def test_the_rendered_search_returns_the_mapped_attributes(ldap):
    attributes = ldap["attributes"]
    [alice] = entries(ldapsearch(ldap["port"], ldap["bind_dn"], bind_password(ldap), ldap["search_base_dns"][0],
                                 ldap["search_filter"].replace("%s", "alice"), *attributes.values()).stdout)
    assert alice[attributes["email"]] == ["alice@example.com"]
    assert alice[attributes["username"]] == ["alice"] and alice[attributes["name"]] == ["Alice Example"]
