"""TLS and basic authentication of the mock exporters, from the web configuration file the real
exporters read (`--web-config-file FILE`, the format of exporter-toolkit's `--web.config.file`,
docs/web-configuration.md; rendered by render/web_config.py):

    tls_server_config: {cert_file: ..., key_file: ..., min_version: TLS12}
    basic_auth_users: {<user>: <bcrypt hash>}

Only those keys: any other key (exporter-toolkit's client certificates, cipher suites, HTTP headers)
is refused at start with one line, never ignored. TLS 1.2 is the floor (`min_version` TLS12 or
TLS13). As in exporter-toolkit, every path needs the credentials, a successful bcrypt check is
cached per (user, password) so a scrape costs no bcrypt, an unknown user is checked against a fixed
hash (no timing difference between "no such user" and "wrong password"), and bcrypt runs one at a
time. A plain-HTTP request on a TLS port gets exporter-toolkit's 400.

Imports yaml and bcrypt only when a file is given: without one the mock stays standard-library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOP_KEYS = ("tls_server_config", "basic_auth_users")
TLS_KEYS = ("cert_file", "key_file", "min_version")
MIN_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# bcrypt of "fakepassword" at cost 10, checked for an unknown user (exporter-toolkit's own constant).
FAKE_HASH = b"$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
# Successful checks remembered; the cache is emptied when full (a handful of clients in practice).
CACHE_LIMIT = 1024
HANDSHAKE_TIMEOUT_S = 10.0
# A TLS record starts with 0x16 (handshake); anything else on a TLS port is plain text.
TLS_HANDSHAKE_RECORD = 0x16
PLAIN_HTTP_REPLY = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    b"Client sent an HTTP request to an HTTPS server.\n"
)


class WebConfigError(Exception):
    """A web configuration file the mock cannot serve with (one line, naming the file and the key)."""


@dataclass
class BasicAuth:
    users: dict[str, bytes]
    _cache: dict[bytes, bytes] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    _bcrypt_lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, header: str | None) -> bool:
        """Whether an `Authorization` header value names a user of the file with its password."""
        credentials = parse_basic(header)
        if credentials is None:
            return False
        user, password = credentials
        known = user in self.users
        hashed = self.users.get(user, FAKE_HASH)
        key = hashlib.sha256(user.encode() + b"\0" + password.encode()).digest()
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            return known and hmac.compare_digest(cached, hashed)
        import bcrypt

        with self._bcrypt_lock:
            matches = bcrypt.checkpw(password.encode(), hashed)
        if matches and known:
            with self._cache_lock:
                if len(self._cache) >= CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = hashed
        return matches and known


def parse_basic(header: str | None) -> tuple[str, str] | None:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


@dataclass
class WebSecurity:
    """What every simulated host of one process serves with: an SSL context, basic-auth users, both or neither."""

    tls: ssl.SSLContext | None = None
    auth: BasicAuth | None = None

    def accept(self, sock: socket.socket) -> ssl.SSLSocket | None:
        """The TLS side of an accepted connection (handshake done), or None once refused: a plain-HTTP
        request gets the 400 exporter-toolkit answers, a failed handshake is closed."""
        assert self.tls is not None
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
            if first and first[0] != TLS_HANDSHAKE_RECORD:
                _refuse_plain(sock)
                raise OSError("plain HTTP on a TLS port")
            secured = self.tls.wrap_socket(sock, server_side=True)
        except OSError:  # ssl.SSLError and timeouts are OSErrors
            sock.close()
            return None
        secured.settimeout(None)
        return secured


def _refuse_plain(sock: socket.socket) -> None:
    """The 400, then the request read to its end before closing: closing with unread bytes would
    reset the connection and the client would never see the answer (Go's server waits likewise)."""
    sock.sendall(PLAIN_HTTP_REPLY)
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(1.0)
    for _ in range(64):
        if not sock.recv(4096):
            break


def _mapping(value: Any, where: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebConfigError(f"web config {path}: {where} is not a mapping")
    return value


def _unknown(document: dict[str, Any], known: tuple[str, ...], where: str, path: str) -> None:
    if unknown := sorted(str(key) for key in document if key not in known):
        raise WebConfigError(
            f"web config {path}: unknown key {where}{unknown[0]} (the mock reads {', '.join(where + k for k in known)})"
        )


def load_web_config(path: str) -> WebSecurity:
    """The file at `path` checked and loaded; every problem is a WebConfigError of one line."""
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise WebConfigError(f"web config {path}: cannot read: {' '.join(str(error).split())}") from None
    document = _mapping(document, "the document", path)
    _unknown(document, TOP_KEYS, "", path)
    security = WebSecurity()
    if (tls := document.get("tls_server_config")) is not None:
        tls = _mapping(tls, "tls_server_config", path)
        _unknown(tls, TLS_KEYS, "tls_server_config.", path)
        if not tls.get("cert_file") or not tls.get("key_file"):
            raise WebConfigError(f"web config {path}: tls_server_config needs cert_file and key_file")
        version = tls.get("min_version", "TLS12")
        if version not in MIN_VERSIONS:
            raise WebConfigError(
                f"web config {path}: tls_server_config.min_version {version!r} is not one of {', '.join(MIN_VERSIONS)}"
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = MIN_VERSIONS[version]
        try:
            context.load_cert_chain(str(tls["cert_file"]), str(tls["key_file"]))
        except (OSError, ssl.SSLError) as error:
            raise WebConfigError(f"web config {path}: cannot load cert_file/key_file: {error}") from None
        security.tls = context
    if (users := document.get("basic_auth_users")) is not None:
        users = _mapping(users, "basic_auth_users", path)
        import bcrypt

        hashes: dict[str, bytes] = {}
        for user, hashed in users.items():
            try:
                bcrypt.checkpw(b"", str(hashed).encode())
            except ValueError:
                raise WebConfigError(f"web config {path}: basic_auth_users.{user} is not a bcrypt hash") from None
            hashes[str(user)] = str(hashed).encode()
        security.auth = BasicAuth(hashes) if hashes else None
    return security
