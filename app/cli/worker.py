"""``claude-workers worker``: one fleet worker (the container's entrypoint).

Start-up, in order: wait for Redis (a clear error naming REDIS_URL when it never answers),
check the Claude credential passively (a banner with the setup command when there is none),
serve ``/health``, ``/auth`` and ``/metrics``, then run the RQ worker with its scheduler.
"""

from __future__ import annotations

import contextlib
import logging
import socket

import click
import redis
from redis import Redis

from app import place
from app.claude.credentials import inspect_credentials
from app.claude.sandbox import probe as sandbox_probe
from app.errors import SETUP_COMMAND
from app.fleet.keys import Keys
from app.fleet.login_refresh import LoginRefresher
from app.fleet.presence import WorkerInfo, advertised_url
from app.fleet.shared_login import CredentialSync
from app.fleet.worker import note_credential, preload_api_engine, run_worker
from app.health import HealthServer
from app.jobs.leftovers import Sweeper
from app.jobs.webhooks import Dispatcher
from app.proc import init_if_pid1
from app.redis_conn import connect, redact_url, wait_for_redis
from app.settings import Settings, get_settings

log = logging.getLogger("app.worker")

#: a scale-out within this many seconds shows no second banner
BANNER_EVERY_S = 600

RULE = "=" * 78


def banner(port: int) -> str:
    """The login banner, in the words of the place this worker runs in."""
    lines = [
        RULE,
        " Claude is not authenticated. Jobs will wait on every worker; none is lost.",
        " Log in once for the whole fleet:",
        *(f"     {command}" for command in place.setup_commands()),
        f" Then check:  curl {place.health_url(port)}",
        RULE,
    ]
    return "\n" + "\n".join(lines) + "\n"


def announce_missing_login(conn: Redis, settings: Settings, port: int) -> None:
    """One banner per fleet: the first worker to find no login shows it; the others say one line."""
    keys = Keys(settings.claude_workers_prefix)
    try:
        first = bool(conn.set(keys.login_banner, f"{socket.gethostname()}:{port}", nx=True, ex=BANNER_EVERY_S))
    except redis.RedisError:
        first = True
    if first:
        click.echo(banner(port), err=True)
    else:
        log.warning("credentials: none yet (another worker showed how to log in); jobs wait until: %s", SETUP_COMMAND)


def start_health(settings: Settings, info: WorkerInfo) -> tuple[HealthServer, int]:
    server = HealthServer(settings, info, connect(settings, socket_timeout=1.0, connect_timeout=0.5))
    port = server.bind(settings.health_host, settings.health_port)
    server.serve_in_background()
    return server, port


def share_login(settings: Settings, info: WorkerInfo) -> Redis:
    """Take the fleet's shared credential (if any) now, then keep taking every new version of it.

    Returns the connection its thread uses, for the rest of the login's start-up."""
    conn = connect(settings, socket_timeout=10)
    sync = CredentialSync(conn, settings, settings.claude_workers_credential_poll)
    with contextlib.suppress(redis.RedisError, OSError):
        sync.step()
    sync.also(LoginRefresher(conn, settings, sync).step)  # one refresh of a claude.ai login, fleet-wide
    sync.also(lambda: note_credential(conn, settings, info))
    sync.start()
    if settings.claude_workers_secret_key is not None:
        log.info("credentials: shared through Redis, encrypted (CLAUDE_WORKERS_SECRET_KEY is set)")
    return conn


def announce_sandbox(settings: Settings) -> None:
    if settings.claude_sandbox == "off":
        log.warning("sandbox: off (CLAUDE_SANDBOX=off): a job's agent can read this worker's files and credential")
        return
    isolation, problem = sandbox_probe()
    if problem is None:
        log.info("sandbox: each Claude run is sandboxed with bubblewrap (%s isolation)", isolation)
    elif settings.claude_sandbox == "bwrap":
        log.error("sandbox: CLAUDE_SANDBOX=bwrap, but %s: CLI jobs will fail until that is fixed", problem)
    else:
        log.warning(
            "sandbox: NONE, %s. A job's agent could read the fleet credential and other jobs' files: install "
            "bubblewrap and allow user namespaces (in Docker: security_opt seccomp=unconfined), "
            "or accept this with CLAUDE_SANDBOX=off on a trusted, single-user machine",
            problem,
        )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit (for scripts and tests).")
@click.option(
    "--redis-wait",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to wait for Redis at start (default CLAUDE_REDIS_WAIT, 60).",
)
def worker_command(burst: bool, redis_wait: float | None) -> None:
    """Run one fleet worker: waits for Redis, serves health, runs Claude jobs behind the fleet gate."""
    init_if_pid1()
    settings = get_settings()
    wait = settings.claude_redis_wait if redis_wait is None else redis_wait
    log.info("waiting for Redis at %s", redact_url(settings.effective_redis_url))
    wait_for_redis(settings, timeout=wait)
    info = WorkerInfo()
    login_conn = share_login(settings, info)
    report = inspect_credentials(settings)
    _, port = start_health(settings, info)
    log.info("health on http://%s:%d/health (also /live, /ready, /auth, /metrics)", settings.health_host, port)
    for problem in report.problems:
        log.warning("credentials: %s", problem)
    for ignored in report.ignored:
        log.info("credentials: ignored %s", ignored)
    if report.credential is None:
        announce_missing_login(login_conn, settings, port)
    else:
        log.info("credentials: %s from %s", report.credential.kind.value, report.credential.source)
    announce_sandbox(settings)
    chores = connect(settings, socket_timeout=10)  # one pool: the two seldom run at the same moment
    Dispatcher(chores, settings).start()  # any worker sends any webhook owed
    Sweeper(chores, settings).start()  # what canceled jobs left on this volume
    if settings.claude_preload_api_engine:
        preload_api_engine()
    url = advertised_url(settings.health_host, port)
    raise SystemExit(run_worker(settings, burst=burst, redis_wait=wait, info=info, health_port=port, health_url=url))
