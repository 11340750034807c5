"""Which URLs the data layer may read, decided before any byte is fetched.

The rules, each refused with a message that names it:

- only ``https://`` (and ``s3://``, see ``data_layer``); plain ``http://`` only for a host listed
  with the ``http://`` prefix in ``TRAINYARD_DATA_ALLOWED_HOSTS`` (meant for a data server on
  a trusted network, or a test server on loopback);
- the host must match an entry of ``TRAINYARD_DATA_ALLOWED_HOSTS``: ``example.com`` (that host),
  ``*.example.com`` (its subdomains), either with ``:port`` (else the scheme's default port);
- the host is resolved and **every** address is checked: cloud metadata addresses are refused
  unless that very IP literal is listed; private, loopback, link-local, reserved and other
  non-global addresses are refused unless the host is listed exactly (not through a wildcard);
- the fetch then connects to an address that was checked (no second lookup), so a DNS answer
  that changes between check and fetch cannot redirect it; redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.core.exceptions import ConfigurationError

PATH_FIELD = "data_source_config.path"
SETTING = "TRAINYARD_DATA_ALLOWED_HOSTS"
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Instance metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba, Oracle).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)


@dataclass(frozen=True)
class HostRule:
    scheme: str
    host: str
    port: int | None
    wildcard: bool

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme:
            return False
        if port != (self.port if self.port is not None else DEFAULT_PORTS[scheme]):
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed every rule, with the addresses the fetch may connect to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    def targets(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        """Per checked address: the URL that connects to it, the ``Host`` header and the
        httpx extensions (TLS checks the certificate for the host's name, not the address).
        Connecting to these, never to a second DNS answer, closes the DNS-rebinding gap."""
        parts = urlsplit(self.url)
        default = DEFAULT_PORTS[self.scheme]
        host_header = self.host if self.port == default else f"{self.host}:{self.port}"
        extensions: dict[str, Any] = {"sni_hostname": self.host} if self.scheme == "https" else {}
        found = []
        for address in self.addresses:
            netloc = f"[{address}]:{self.port}" if ":" in address else f"{address}:{self.port}"
            target = urlunsplit((self.scheme, netloc, parts.path or "/", parts.query, ""))
            found.append((target, {"Host": host_header}, extensions))
        return found


def parse_rules(entries: Sequence[str]) -> list[HostRule]:
    rules = []
    for raw in entries:
        text = raw.strip().lower()
        scheme = "https"
        if "://" in text:
            scheme, text = text.split("://", 1)
            if scheme not in DEFAULT_PORTS:
                raise ValueError(f"{SETTING}: {raw!r}: only http:// or https:// may prefix a host")
        text = text.rstrip("/")
        wildcard = text.startswith("*.")
        if wildcard:
            text = text[2:]
        parts = urlsplit(f"//{text}")
        if not parts.hostname:
            raise ValueError(f"{SETTING}: {raw!r} names no host")
        rules.append(HostRule(scheme, parts.hostname, parts.port, wildcard))
    return rules


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "metadata"
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-global"


def check_url(
    url: str,
    allowed_hosts: Sequence[HostRule],
    resolve: Resolver = system_resolver,
    *,
    field: str = PATH_FIELD,
    setting: str = SETTING,
) -> CheckedURL:
    """The URL with its checked addresses; ``ConfigurationError`` naming the broken rule.
    ``field`` and ``setting`` name the input and the allow-list (webhooks use their own)."""

    def _refuse(message: str) -> ConfigurationError:
        return ConfigurationError.for_field(field, message.replace(SETTING, setting))

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _refuse(f"the scheme {scheme!r} is not allowed")
    if parts.username or parts.password:
        raise _refuse("credentials in the URL are not allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise _refuse(f"{url!r} names no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise _refuse(f"{url!r} has an invalid port") from None
    rule = next((r for r in allowed_hosts if r.matches(scheme, host, port)), None)
    if rule is None:
        if scheme == "http" and any(r.matches("https", host, 443) for r in allowed_hosts):
            raise _refuse(f"plain http:// is not allowed for {host}; use https://")
        listed = f"{scheme}://{host}" if scheme == "http" else host
        raise _refuse(
            f"the host {host}:{port} is not allowed: {scheme}:// sources are read only from "
            f"hosts listed in {SETTING} (add {listed!r} to allow it)"
        )
    literal = _ip_literal(host)
    try:
        addresses = [literal.compressed] if literal is not None else resolve(host, port)
    except OSError as exc:
        raise _refuse(f"the host {host} cannot be resolved: {exc}") from None
    if not addresses:
        raise _refuse(f"the host {host} resolves to no address")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        kind = _kind(address)
        if kind == "metadata" and literal != address:
            raise _refuse(
                f"{host} resolves to {address}, a cloud metadata address, which is never read "
                f"unless that address itself is listed in {SETTING}"
            )
        if kind is not None and kind != "metadata" and rule.wildcard:
            raise _refuse(
                f"{host} resolves to {address}, a {kind} address; a non-public address is read "
                f"only from a host listed exactly (not by a wildcard) in {SETTING}"
            )
    return CheckedURL(url, scheme, host, port, tuple(addresses))
