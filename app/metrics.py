"""Prometheus metrics, read from Redis at scrape time.

Two kinds of series, so that any aggregation over the scraped targets adds up:

* **per-worker** series, on every worker, labelled ``worker``: what that worker is and did
  (busy, start time, its Claude runs by outcome), plus ``claude_workers_build_info``;
* **fleet-wide** series (queue depths, fleet state, the run-duration histogram, cost, retries)
  from one place only: the worker in health slot 0 (the guide's port 8080), or a process that
  serves no worker (``info`` is None). Every worker exporting them would make ``sum()`` over
  targets count each job once per worker. ``claude_workers_fleet_reporter`` says which target it is.
"""

from __future__ import annotations

import functools
import platform
import re
import subprocess
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis

from app import __version__
from app.errors import ConfigError
from app.fleet import clients, stats
from app.fleet.keys import Keys
from app.fleet.presence import WorkerInfo
from app.fleet.snapshot import FleetSnapshot, take
from app.fleet.state import STATES
from app.settings import Settings

NS = "claude_workers"
#: the slot whose worker exports the fleet-wide series
REPORTER_SLOT = 0


@functools.cache
def claude_code_version(claude_bin: str) -> str:
    """The Claude Code CLI's version ("2.1.332"), asked once per process; "unknown" if it does not say."""
    try:
        out = subprocess.run([claude_bin, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    found = re.match(r"\s*(\d+\.\d+\.\d+\S*)", out)
    return found.group(1) if found else "unknown"


class FleetCollector(Collector):
    def __init__(self, settings: Settings, conn: Redis, info: WorkerInfo | None = None) -> None:
        self.settings = settings
        self.conn = conn
        self.info = info
        self.keys = Keys(settings.claude_workers_prefix)

    @property
    def reports_the_fleet(self) -> bool:
        return self.info is None or self.info.slot == REPORTER_SLOT

    def collect(self) -> Iterator[Metric]:
        yield self._build_info()
        up = GaugeMetricFamily(f"{NS}_redis_up", "1 when Redis answered this scrape.")
        snap: FleetSnapshot | None = None
        counters: dict[str, float] = {}
        try:
            if self.reports_the_fleet:
                snap, counters = take(self.conn, self.settings), stats.read(self.conn, self.keys)
            else:
                self.conn.ping()
            own = stats.read_worker(self.conn, self.keys, self.info.name) if self.info else {}
        except (redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        reporter = GaugeMetricFamily(
            f"{NS}_fleet_reporter", "1 when this target exports the fleet-wide series (health slot 0)."
        )
        reporter.add_metric([], 1 if self.reports_the_fleet else 0)
        yield reporter
        if self.info is not None:
            yield from self._worker(self.info, own)
        if snap is not None:
            yield from self._fleet(snap, counters)

    def _build_info(self) -> Metric:
        try:
            claude = claude_code_version(self.settings.resolve_claude_bin())
        except ConfigError:
            claude = "missing"
        info = GaugeMetricFamily(
            f"{NS}_build_info",
            "Always 1; the labels say what runs: claude-workers, the Claude Code CLI, Python.",
            labels=["version", "claude_code", "python"],
        )
        info.add_metric([__version__, claude, platform.python_version()], 1)
        return info

    def _worker(self, info: WorkerInfo, own: dict[str, float]) -> Iterator[Metric]:
        busy = GaugeMetricFamily(f"{NS}_worker_busy", "1 while this worker runs a job.", labels=["worker"])
        busy.add_metric([info.name], 1 if info.current_job else 0)
        yield busy
        started = GaugeMetricFamily(
            f"{NS}_worker_start_time_seconds", "When this worker started (Unix time).", labels=["worker"]
        )
        started.add_metric([info.name], info.started_at)
        yield started
        runs = CounterMetricFamily(
            f"{NS}_worker_attempts", "Claude runs by this worker, by outcome.", labels=["worker", "outcome"]
        )
        for field_name, amount in sorted(own.items()):
            if field_name.startswith("attempts:"):
                runs.add_metric([info.name, field_name.split(":", 1)[1]], amount)
        yield runs

    def _fleet(self, snap: FleetSnapshot, counters: dict[str, float]) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(f"{NS}_jobs", "Jobs by state.", labels=["state"])
        for name, value in (
            ("queued", snap.queued),
            ("scheduled", snap.scheduled),
            ("started", snap.started),
            ("finished", snap.finished),
            ("failed", snap.failed),
        ):
            jobs.add_metric([name], value)
        yield jobs

        runnable = GaugeMetricFamily(
            f"{NS}_runnable_queue_depth",
            "Queued jobs a worker could start now; 0 while the fleet gate is closed (scale on this).",
        )
        runnable.add_metric([], snap.runnable)
        yield runnable

        fleet_state = GaugeMetricFamily(f"{NS}_fleet_state", "1 for the current fleet state.", labels=["state"])
        for word in STATES:
            fleet_state.add_metric([word], 1 if snap.state == word else 0)
        yield fleet_state

        reset = GaugeMetricFamily(
            f"{NS}_quota_reset_timestamp_seconds", "When the usage limit resets (0 when none is known)."
        )
        reset.add_metric([], snap.gate.resets_at or 0)
        yield reset

        probe = GaugeMetricFamily(f"{NS}_next_probe_timestamp_seconds", "When the closed gate probes next (0: open).")
        probe.add_metric([], 0 if snap.gate.is_open else (snap.gate.until or 0))
        yield probe

        workers = GaugeMetricFamily(f"{NS}_workers", "Registered workers of this deployment.")
        workers.add_metric([], len(snap.workers))
        yield workers

        retries = CounterMetricFamily(f"{NS}_retries", "Job retries by reason.", labels=["reason"])
        attempts = CounterMetricFamily(f"{NS}_attempts", "Claude runs by outcome.", labels=["outcome"])
        for field_name, amount in sorted(counters.items()):
            if field_name.startswith("retries:"):
                retries.add_metric([field_name.split(":", 1)[1]], amount)
            elif field_name.startswith("attempts:"):
                attempts.add_metric([field_name.split(":", 1)[1]], amount)
        yield retries
        yield attempts

        duration = HistogramMetricFamily(f"{NS}_job_duration_seconds", "Duration of Claude runs.")
        # Prometheus's spelling of a bound: "60.0", "2.5", "+Inf"
        buckets = [(le if le == "+Inf" else repr(float(le)), count) for le, count in stats.histogram(counters)]
        duration.add_metric([], buckets, counters.get("duration_seconds_sum", 0))
        yield duration

        cost = CounterMetricFamily(f"{NS}_cost_usd", "Claude cost reported by runs, in USD.")
        cost.add_metric([], counters.get("cost_usd_sum", 0))
        yield cost

        spend = GaugeMetricFamily(
            f"{NS}_client_spend_usd", "What each client's jobs cost, in USD, this period.", labels=["client", "period"]
        )
        zone = self.settings.timezone
        for client in clients.all_clients(self.conn, self.keys):
            spent = clients.spend(self.conn, self.keys, client.name, zone)
            spend.add_metric([client.name, "day"], spent["today_usd"])
            spend.add_metric([client.name, "month"], spent["this_month_usd"])
        yield spend

        for field, help_text in (
            ("deferrals", "Jobs put back behind a closed gate without calling Claude."),
            ("failed", "Jobs that failed for good (kept in the failed registry)."),
        ):
            family = CounterMetricFamily(f"{NS}_{field}", help_text)
            family.add_metric([], counters.get(field, 0))
            yield family
