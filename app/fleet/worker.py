"""The RQ worker of the fleet, and the supervisor loop that keeps it running.

On top of ``rq.Worker`` (3.0; see docs/architecture.md for why that release):

* before every dequeue it waits while the fleet gate is closed, keeping its heartbeat and
  RQ's maintenance (abandoned-job recovery, scheduler restarts) going;
* when the gate's time comes it competes for the probe lock, and only the holder dequeues:
  one job, one Claude call, for the whole fleet;
* while auth is the problem it watches the credential files and probes at once when they
  change;
* executions heartbeat on a short TTL, so a job whose worker was SIGKILLed is back in the
  queue within about a minute, not RQ's 13;
* SIGTERM finishes the current job; a second SIGTERM, or ``CLAUDE_SHUTDOWN_GRACE`` running
  out, kills it and puts it back at the front of the queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from types import FrameType
from typing import Any

import redis
from redis import Redis
from rq import Queue, Worker, worker_registration
from rq.exceptions import StopRequested
from rq.job import Job, JobStatus
from rq.registry import clean_registries
from rq.scheduler import RQScheduler
from rq.utils import now as utcnow
from rq.worker import WorkerStatus

from app.claude.credentials import CLAUDE_LOGIN_FILE, STORED_CREDENTIAL_FILE, inspect_credentials
from app.fleet import endings, events, spending_cap
from app.fleet.gate import Gate
from app.fleet.job import HideSentinelRetryCounts, final_failures_are_final
from app.fleet.keys import RQ_WORKER_PREFIX, Keys
from app.fleet.presence import GATEWAY_PORT, HealthSlot, WorkerInfo
from app.fleet.state import FleetState
from app.proc import die_with_parent
from app.redis_conn import wait_for_redis
from app.settings import Settings
from app.states import State

log = logging.getLogger("app.worker")

HEARTBEAT_WHILE_WAITING_S = 5.0
#: how long a registry-cleaning lock outlives a worker killed while holding it
CLEAN_LOCK_TTL_S = 60


_preload: threading.Thread | None = None


def preload_api_engine() -> None:
    """Import the Anthropic SDK in the background so forked job processes inherit it.

    Forking while that import runs would hand the job process a module lock held by a thread
    it does not have, so ``execute_job`` waits for the import to finish first.
    """
    global _preload

    def load() -> None:
        started = time.monotonic()
        import anthropic  # noqa: F401

        log.info("API engine loaded in %.1fs (job processes inherit it)", time.monotonic() - started)

    _preload = threading.Thread(target=load, name="preload-anthropic", daemon=True)
    _preload.start()


def note_credential(conn: Redis, settings: Settings, info: WorkerInfo, *, force: bool = False) -> None:
    """Tell the fleet whether this worker has a credential (``status`` and metrics say auth_required
    when no worker has one, before any job has met a 401)."""
    has = inspect_credentials(settings).configured
    if (force or has != info.has_credential) and info.name != WorkerInfo.name:
        conn.hset(RQ_WORKER_PREFIX + info.name, "credential", int(has))
        info.has_credential = has


def credential_signature(settings: Settings) -> tuple[tuple[str, int, int, int], ...]:
    found = []
    for name in (STORED_CREDENTIAL_FILE, CLAUDE_LOGIN_FILE):
        try:
            st = (settings.config_dir / name).stat()
        except OSError:
            continue
        found.append((name, st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(found)


class ClaudeScheduler(RQScheduler):
    """RQ's scheduler process, made to die with its worker instead of outliving it."""

    def work(self) -> None:
        die_with_parent()
        super().work()  # type: ignore[no-untyped-call]


class ClaudeWorker(Worker):
    def __init__(self, queues: list[Queue], *, settings: Settings, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", settings.claude_worker_ttl)
        kwargs.setdefault("maintenance_interval", settings.claude_maintenance_interval)
        kwargs.setdefault("job_monitoring_interval", settings.claude_job_monitoring_interval)
        kwargs.setdefault("exception_handlers", [final_failures_are_final])
        super().__init__(queues, **kwargs)
        self.settings = settings
        self.gate = Gate.of(self.connection, settings)
        self.probing = False
        self.shutdown_requested = False
        self.info = WorkerInfo()
        self.health_port: int | None = None
        self.health_url: str | None = None
        self._slot: HealthSlot | None = None
        self._worker_pid = os.getpid()
        self._grace_timer: threading.Timer | None = None
        self._putting_back = False
        rq_job_log = logging.getLogger("rq.job")
        if not any(isinstance(f, HideSentinelRetryCounts) for f in rq_job_log.filters):
            rq_job_log.addFilter(HideSentinelRetryCounts())

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO", *args: Any) -> None:
        # RQ's own method, with our scheduler class; burst mode only needs one pass
        self.scheduler = ClaudeScheduler(self.queues, connection=self.connection, serializer=self.serializer)
        self.scheduler.acquire_locks()  # type: ignore[no-untyped-call]
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
            finally:
                self.scheduler.release_locks()  # type: ignore[no-untyped-call]
                self.scheduler.register_death()
        else:
            self.scheduler.start()  # type: ignore[no-untyped-call]

    def clean_registries(self) -> None:
        """RQ's registry cleaning (abandoned-job recovery), under a lock that expires in a minute.

        RQ holds this lock for 899 s; a worker killed while cleaning (a few milliseconds) would
        stop every worker from recovering abandoned jobs for 15 minutes.
        """
        for queue in self.queues:
            if self.connection.set(queue.registry_cleaning_key, 1, nx=True, ex=CLEAN_LOCK_TTL_S):
                try:
                    clean_registries(queue, self._exc_handlers)
                    worker_registration.clean_worker_registry(queue)
                    queue.intermediate_queue.cleanup(self, queue)
                finally:
                    queue.release_maintenance_lock()
        self.last_cleaned_at = utcnow()  # type: ignore[assignment]  # RQ declares it None-only

    # -- what RQ's own tools count --------------------------------------------------------
    def handle_job_retry(self, job: Job, queue: Queue, retry: Any, started_job_registry: Any, execution: Any) -> None:
        # a job the guard put back (behind the gate, or for a short retry) has not failed; RQ counts
        # every returned Retry in the worker's failed_job_count, which `rq info` and rq-dashboard show
        self._putting_back = not (job.number_of_retries and job.number_of_retries >= retry.max)
        try:
            super().handle_job_retry(job, queue, retry, started_job_registry, execution)
        finally:
            self._putting_back = False

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any, execution: Any) -> None:
        super().handle_job_success(job, queue, started_job_registry, execution)
        # after RQ stored the result: a client that reacts to the event finds the job finished
        value = job.return_value(refresh=False)
        cost = value.get("cost_usd") if isinstance(value, dict) else None
        endings.job_ended(job, "job.finished", cost_usd=cost)

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = "", execution: Any = None
    ) -> None:
        super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
        with contextlib.suppress(redis.RedisError):
            if job.get_status(refresh=True) == JobStatus.FAILED:
                endings.job_ended(job, "job.failed", error=(job.meta or {}).get("error"))
            else:  # RQ's crash safety net put it back
                events.emit_for(job, "job.retried", reason="the job process died")

    def increment_failed_job_count(self, pipeline: Any = None) -> None:
        if not self._putting_back:
            super().increment_failed_job_count(pipeline)

    # -- the gate ----------------------------------------------------------------------
    def check_for_suspension(self, burst: bool) -> None:
        super().check_for_suspension(burst)  # `rq suspend` still works
        self.wait_for_gate(burst)

    def wait_for_gate(self, burst: bool) -> None:
        announced: FleetState | None = None
        before_state = None
        last_beat = time.monotonic()
        signature = None
        while not self._stop_requested:
            self.info.beat()
            try:
                state = self.gate.read()
                if state.is_open:
                    break
                state, signature = self._sooner(state, signature)
                if state.probe_due() and self.queues[0].count > 0 and self.gate.acquire_probe(self.name):
                    self.probing = True
                    log.info("worker %s: probing Claude with the next job (fleet is %s)", self.name, state.state)
                    break
                if burst:
                    log.info("worker %s: fleet is %s; burst mode stops here", self.name, state.state)
                    raise StopRequested
                if announced is None or announced.state != state.state or announced.until != state.until:
                    log.info(
                        "worker %s: waiting, fleet is %s (%s); next probe %s",
                        self.name,
                        state.state,
                        state.reason[:120],
                        _when(state.until),
                    )
                    announced = state
                    if before_state is None:
                        before_state = self.get_state()
                        self.set_state(WorkerStatus.SUSPENDED)
                if time.monotonic() - last_beat >= HEARTBEAT_WHILE_WAITING_S:
                    self.heartbeat()
                    last_beat = time.monotonic()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()  # type: ignore[no-untyped-call]
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("worker %s: Redis unavailable while waiting (%s); retrying", self.name, exc)
                time.sleep(1.0)
                continue
            time.sleep(self.settings.claude_gate_poll_interval)
        if before_state is not None:
            with contextlib.suppress(redis.RedisError):
                self.set_state(before_state)

    def _sooner(self, state: FleetState, signature: Any) -> tuple[FleetState, Any]:
        """Bring the next probe forward when what closed the gate may be fixed: new credential files
        for a login state; a raised spending cap (these settings are newer), or a turned period."""
        if state.state == State.BUDGET_EXCEEDED:
            if spending_cap.over(self.connection, self.gate.keys, self.settings) is None:
                return self.gate.cap_lifted(), signature
            return state, signature
        if State(state.state).needs_a_login:
            current = credential_signature(self.settings)
            if signature is not None and current != signature:
                return self.gate.credentials_changed(), current
            return state, current
        return state, signature

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(timeout, pipeline)
        self.info.beat()
        self._hold_slot()
        if self.probing:
            with contextlib.suppress(redis.RedisError):
                self.gate.refresh_probe(self.name)

    def execute_job(self, job: Job, queue: Queue) -> None:
        if _preload is not None:
            _preload.join()
        self.info.current_job = job.id
        with contextlib.suppress(redis.RedisError):
            self.connection.hset(self.key, "current_job", job.id)
        try:
            super().execute_job(job, queue)
        finally:
            self.info.current_job = None
            with contextlib.suppress(redis.RedisError):
                self.connection.hset(self.key, "current_job", "")
            self._release_probe()

    def register_birth(self) -> None:
        super().register_birth()  # type: ignore[no-untyped-call]
        self.info.beat()
        events.emit(self.connection, self.gate.keys, "worker.joined", worker=self.name)
        note_credential(self.connection, self.settings, self.info, force=True)
        if self.health_port and self.health_url:
            self.connection.hset(self.key, mapping={"health_port": self.health_port, "health_url": self.health_url})
            self._slot = HealthSlot(self.connection, self.gate.keys, self.health_url, self.worker_ttl + 15)
            self._hold_slot()

    def _hold_slot(self) -> None:
        if self._slot is None:
            return
        try:
            slot = self._slot.claim()
        except redis.RedisError:
            return  # kept until its TTL; the next heartbeat claims it again
        if slot != self.info.slot:
            self.info.slot = slot
            with contextlib.suppress(redis.RedisError):
                self.connection.hset(self.key, "health_slot", "" if slot is None else slot)
            if slot is not None:
                log.info("worker %s: health slot %d (health gateway port %d)", self.name, slot, GATEWAY_PORT + slot)

    def _release_probe(self) -> None:
        if self.probing:
            with contextlib.suppress(redis.RedisError):
                self.gate.release_probe(self.name)
            self.probing = False

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        # the job process dies with its worker, so a killed worker never leaves an orphan
        # finishing a job that recovery will also re-run
        die_with_parent()
        # the worker died before we asked (compared with its pid, not 1: a worker may be PID 1)
        if os.getppid() != self._worker_pid:
            os._exit(1)
        super().main_work_horse(job, queue)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = int(min(job.timeout - working_time, interval))
        return int(max(interval, 1) + self.settings.claude_execution_grace)

    # -- shutdown ----------------------------------------------------------------------
    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        # RQ raises StopRequested for an idle worker without recording why; the supervisor must know
        self.shutdown_requested = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]  # raises StopRequested when idle
        grace = self.settings.claude_shutdown_grace
        log.info(
            "worker %s: finishing the current job first (up to %gs; SIGTERM again to requeue it now)", self.name, grace
        )
        self._grace_timer = threading.Timer(max(grace, 1.1), os.kill, args=(os.getpid(), signal.SIGTERM))
        self._grace_timer.daemon = True
        self._grace_timer.start()

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        job = self.get_current_job() if self.horse_pid else None
        try:
            super().request_force_stop(signum, frame)
        except SystemExit:
            if job is not None:
                self.requeue_interrupted(job.id)
            self._release_probe()
            raise

    def requeue_interrupted(self, job_id: str) -> None:
        """Put a job whose run was cut short by shutdown back at the front of its queue."""
        try:
            job = Job.fetch(job_id, connection=self.connection)
            if job.get_status() != JobStatus.STARTED:
                return
            history = list(job.meta.get("attempts", []))
            for attempt in history:
                if attempt.get("outcome") == "running":
                    attempt.update(outcome="interrupted", ended_at=time.time(), message="worker shut down")
            job.meta["attempts"] = history
            job.save_meta()
            queue = Queue(job.origin, connection=self.connection)
            with self.connection.pipeline() as pipe:
                queue.started_job_registry.remove_executions(job, pipeline=pipe)
                queue._enqueue_job(job, pipeline=pipe, at_front=True)
                pipe.execute()
            log.warning("job %s requeued at the front: the worker shut down before it finished", job_id)
        except Exception:  # never block shutdown; the crash safety net still recovers the job
            log.exception("could not requeue job %s on shutdown; it will be recovered as abandoned", job_id)

    def teardown(self) -> None:
        events.emit(self.connection, self.gate.keys, "worker.left", worker=self.name)
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        self._release_probe()
        if self._slot is not None and self.info.slot is not None:
            with contextlib.suppress(redis.RedisError):
                self._slot.release(self.info.slot)
            self.info.slot = None
        super().teardown()  # type: ignore[no-untyped-call]


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "when a job arrives"
    delta = epoch - time.time()
    stamp = time.strftime("%H:%M:%SZ", time.gmtime(epoch))
    return f"at {stamp} (in {max(delta, 0):.0f}s)"


def worker_name(restart: int) -> str:
    return f"{socket.gethostname()}.{os.getpid()}.{restart}"


def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    redis_wait: float = 60.0,
    info: WorkerInfo | None = None,
    health_port: int | None = None,
    health_url: str | None = None,
) -> int:
    """Run a worker until it is asked to stop, restarting its loop when Redis goes away."""
    queue_name = Keys(settings.claude_workers_prefix).queue
    info = info or WorkerInfo()
    restart = 0
    while True:
        conn = wait_for_redis(settings, timeout=redis_wait if restart == 0 else 24 * 3600)
        worker = ClaudeWorker(
            [Queue(queue_name, connection=conn)], settings=settings, connection=conn, name=worker_name(restart)
        )
        worker.info = info
        worker.health_port = health_port
        worker.health_url = health_url
        info.name = worker.name
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level=None)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("worker %s: lost Redis (%s); restarting when it answers", worker.name, exc)
        if burst or worker.shutdown_requested or worker._stop_requested:
            return 0
        restart += 1
        log.warning("worker %s: loop ended unexpectedly; restarting (%d)", worker.name, restart)
        time.sleep(min(2.0 * restart, 10.0))
