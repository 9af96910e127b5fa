"""Where deliveries may go: http(s) only, and no loopback, private, link-local or reserved
address unless WEBHOOK_ALLOW_PRIVATE_TARGETS=1 (the local stack and the tests set it).

A subscription's URL is checked when it is saved; each delivery's host name is checked by the
deliverer's resolver, on the very addresses the connection then uses. Checking a name and then
letting the client look it up again would let a name that answers a public address to the check
and a private one to the connection (DNS rebinding) reach the inside."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver


class TargetRefused(ValueError):
    """A URL a delivery must not be sent to (the reason is the message)."""


def private_allowed() -> bool:
    return os.environ.get("WEBHOOK_ALLOW_PRIVATE_TARGETS", "").lower() in ("1", "true", "yes")


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _public(ip.ipv4_mapped)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_url(url: str, *, resolve: bool = True) -> None:
    """Raise TargetRefused unless `url` is an http(s) URL whose host resolves only to public
    addresses (or private targets are allowed). Checked when a subscription is saved and
    again before each delivery, since a name may resolve elsewhere later."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs are accepted")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("credentials in the URL are not accepted")
    if private_allowed():
        return
    try:
        addresses = {ipaddress.ip_address(parts.hostname)}
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise TargetRefused(f"the host does not resolve: {exc}") from None
        addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    refused = sorted(str(a) for a in addresses if not _public(a))
    if refused:
        raise TargetRefused(f"the host resolves to a non-public address ({', '.join(refused)})")


class PublicResolver(ThreadedResolver):
    """The deliverer's resolver: answers only when every address of the name is public (or
    private targets are allowed), so the addresses checked are the addresses connected to."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET, **kw: Any
    ) -> list[ResolveResult]:
        answers = await super().resolve(host, port, family)
        if private_allowed():
            return answers
        refused = sorted({a["host"] for a in answers if not _public(ipaddress.ip_address(a["host"]))})
        if refused:
            raise TargetRefused(f"the host resolves to a non-public address ({', '.join(refused)})")
        return answers
