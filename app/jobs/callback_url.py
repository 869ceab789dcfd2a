"""Where a webhook may go: checked when a job or batch is submitted, and again at each try.

A URL whose host resolves to a loopback, link-local, private or otherwise non-public address is
refused unless ``CLAUDE_WORKERS_WEBHOOK_ALLOW_PRIVATE=true`` (a receiver in your own network), and
no callback is taken without ``CLAUDE_WORKERS_WEBHOOK_SECRET``: an unsigned call could be forged.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.errors import ClaudeWorkersError
from app.settings import Settings


class CallbackRefused(ClaudeWorkersError):
    """A callback_url this fleet will not call (HTTP 422)."""


def webhook_secret(settings: Settings) -> str | None:
    secret = settings.claude_workers_webhook_secret
    return secret.get_secret_value() if secret is not None else None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(url: str, settings: Settings) -> list[str]:
    """The addresses ``url``'s host may be called on; raises CallbackRefused for any it may not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(
            f"The callback_url's host {host!r} does not resolve ({exc}).",
            hint="Check the name, or use an address the workers can reach.",
        ) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not settings.claude_workers_webhook_allow_private:
        private = [a for a in addresses if not _public(a)]
        if private:
            raise CallbackRefused(
                f"The callback_url's host {host!r} resolves to a non-public address ({private[0]}).",
                hint="Webhooks go to public addresses only. For a receiver in your own network, set "
                "CLAUDE_WORKERS_WEBHOOK_ALLOW_PRIVATE=true on the API and the workers.",
            )
    return addresses


def check_callback(url: str | None, settings: Settings) -> None:
    """Refuse, before anything is queued, a callback that could never be sent or trusted."""
    if url is None:
        return
    if webhook_secret(settings) is None:
        raise CallbackRefused(
            "A callback_url needs CLAUDE_WORKERS_WEBHOOK_SECRET, which signs each call; this fleet has none.",
            hint="Set the same secret on the API and the workers, e.g. "
            "CLAUDE_WORKERS_WEBHOOK_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')",
        )
    if not settings.claude_workers_webhook_allow_private:
        resolve(url, settings)
