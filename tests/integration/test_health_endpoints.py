"""Liveness, readiness, /auth detail and the health gateway, against real worker processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from app.claude.credentials import CredentialKind, store_credential
from tests.conftest import CANARY, PYTHON, ROOT, cli_env
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fleet_harness import RedisServer, free_port, ports_free, running_fleet, wait_until

pytestmark = pytest.mark.integration


def get(port: int, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=5)


def free_range(size: int) -> int:
    """A base port with ``size`` free ports after it."""
    for _ in range(50):
        base = free_port()
        if base + size < 65535 and ports_free(list(range(base, base + size))):
            return base
    raise RuntimeError("no free port range")


def test_missing_login_is_a_state_not_a_liveness_failure(
    fake_api: FakeAnthropicAPI, tmp_path: Path, isolated_env: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    port = free_port()
    try:
        with running_fleet(server.url, tmp_path, ANTHROPIC_BASE_URL=fake_api.url) as fleet:
            fleet.start_worker(HEALTH_PORT=str(port))
            wait_until(lambda: _answers(port), 30, what="the worker's health server")
            assert get(port, "/live").status_code == 200
            ready = get(port, "/ready")
            assert ready.status_code == 503 and ready.json()["state"] == "auth_required"
            health = get(port, "/health").json()
            assert health["state"] == "auth_required" and health["label"] == "Auth Required"

            store_credential(isolated_env, CredentialKind.API_KEY, CANARY)
            wait_until(lambda: get(port, "/ready").status_code == 200, 10, what="ready after login")

            # Redis gone: the worker cannot serve jobs, and says so
            server.stop()
            wait_until(lambda: get(port, "/live").status_code == 503, 10, what="/live to fail without Redis")
            assert "Redis" in " ".join(get(port, "/live").json()["problems"])
            assert get(port, "/health").status_code == 200
            server.start()
            wait_until(lambda: get(port, "/live").status_code == 200, 30, what="/live back with Redis")
    finally:
        server.stop()


def _answers(port: int) -> bool:
    try:
        return get(port, "/health").status_code == 200
    except httpx.HTTPError:
        return False


def test_auth_detail_needs_loopback_or_the_token(redis_url: str, tmp_path: Path, isolated_env: Path) -> None:
    store_credential(isolated_env, CredentialKind.API_KEY, CANARY)
    port = free_port()
    with running_fleet(redis_url, tmp_path, CLAUDE_WORKERS_API_TOKEN="tok-123") as fleet:
        fleet.start_worker(HEALTH_PORT=str(port))
        wait_until(lambda: _answers(port), 30, what="the worker's health server")
        local = get(port, "/auth").json()
        assert local["credential"]["fingerprint"].startswith("sha256:")
        assert local["config_dir"] == str(isolated_env)
        # a page from another name (DNS rebinding) reaches loopback, but not the detail
        rebound = get(port, "/auth", host="attacker.example:8080").json()
        assert "credential" not in rebound and "config_dir" not in rebound and "files" not in rebound
        assert rebound["authenticated"] is True and rebound["method"] == "api_key"
        with_token = get(port, "/auth", host="attacker.example", authorization="Bearer tok-123").json()
        assert with_token["credential"]["method"] == "api_key"
        assert get(port, "/auth", host="x.example", authorization="Bearer wrong").json().get("credential") is None
        for path in ("/health", "/auth", "/live", "/ready", "/metrics"):
            assert CANARY not in get(port, path).text


def test_the_gateway_gives_worker_n_the_port_8080_plus_n(redis_url: str, tmp_path: Path) -> None:
    base = free_range(10)
    with running_fleet(redis_url, tmp_path) as fleet:
        ports = [free_port(), free_port()]
        for port in ports:
            fleet.start_worker(HEALTH_PORT=str(port))
            wait_until(lambda port=port: _answers(port), 30, what="a worker's health server")
            wait_until(lambda port=port: get(port, "/health").json()["health_slot"] is not None, 10, what="a slot")
        gateway = subprocess.Popen(
            [PYTHON, "-m", "app", "health-gateway", "--host", "127.0.0.1", "--base-port", str(base)],
            env=cli_env(**fleet.settings_env()),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        fleet.procs.append(gateway)  # type: ignore[arg-type]
        wait_until(lambda: _answers(base), 30, what="the gateway")
        by_slot = {get(p, "/health").json()["health_slot"]: get(p, "/health").json()["worker"] for p in ports}
        assert sorted(by_slot) == [0, 1]
        assert get(base, "/health").json()["worker"] == by_slot[0]
        assert get(base + 1, "/health").json()["worker"] == by_slot[1]
        assert get(base + 1, "/ready").status_code == 503  # the worker's own answer passes through
        empty = get(base + 2, "/health")
        assert empty.status_code == 503 and "--scale worker=3" in empty.json()["hint"]


def test_a_restarted_worker_gets_its_health_port_back_at_once(redis_url: str, tmp_path: Path) -> None:
    import signal
    import socket
    import time

    port = free_port()
    with running_fleet(redis_url, tmp_path) as fleet:
        first = fleet.start_worker(HEALTH_PORT=str(port))
        wait_until(lambda: _answers(port), 30, what="the worker's health server")
        # a probe that keeps its connection, as kubelet's do, then the worker dies under it
        probe = socket.create_connection(("127.0.0.1", port))
        probe.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        probe.recv(65536)
        fleet.kill_group(first, signal.SIGKILL)
        first.wait()
        probe.close()
        restarted = time.monotonic()
        fleet.start_worker(HEALTH_PORT=str(port))
        wait_until(lambda: _answers(port), 20, what="the restarted worker's health server")
        assert time.monotonic() - restarted < 20
        assert "already in use" not in fleet.log_text()
