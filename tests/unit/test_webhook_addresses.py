"""Where a webhook may go, and how a try is aimed at the address that was checked."""

from __future__ import annotations

import pytest

from app.jobs.callback_url import _public
from app.jobs.webhooks import _pinned


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.7", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
    ],
)
def test_only_public_addresses_are_public(address: str, public: bool) -> None:
    assert _public(address) is public


def test_a_try_connects_to_the_checked_address_and_keeps_the_host_name() -> None:
    url, host, extensions = _pinned("https://hooks.example.com:8443/in?x=1", "93.184.216.34")
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert host == {"host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}  # TLS still verifies the name, not the address
    url, host, extensions = _pinned("http://hooks.example.com/in", "2606:2800:220:1:248:1893:25c8:1946")
    assert url == "http://[2606:2800:220:1:248:1893:25c8:1946]/in"
    assert host == {"host": "hooks.example.com"} and extensions == {}
