"""Who is asking: the API token and "this machine", checked the same way by the API and health."""

from __future__ import annotations

import hmac

#: Host names that mean "this machine"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def host_name(header: str | None) -> str:
    """The name part of a Host header, lower case, without the port."""
    host = (header or "").strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def names_this_machine(host_header: str | None) -> bool:
    """A request addressed to localhost, not to a name a browser was tricked into (DNS rebinding)."""
    return host_name(host_header) in LOOPBACK_HOSTS


def bearer_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())
