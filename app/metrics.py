"""Prometheus metrics, read from Redis at scrape time (fleet-wide: the same on every worker)."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from redis import Redis

from app.fleet import stats
from app.fleet.keys import Keys
from app.fleet.snapshot import take
from app.fleet.state import STATES
from app.settings import Settings

NS = "claude_workers"


class FleetCollector(Collector):
    def __init__(self, settings: Settings, conn: Redis) -> None:
        self.settings = settings
        self.conn = conn
        self.keys = Keys(settings.claude_workers_prefix)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(f"{NS}_redis_up", "1 when Redis answered this scrape.")
        try:
            snap = take(self.conn, self.settings)
            counters = stats.read(self.conn, self.keys)
        except (redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

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
            fleet_state.add_metric([word], 1 if snap.gate.state == word else 0)
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

        duration = SummaryMetricFamily(f"{NS}_job_duration_seconds", "Duration of Claude runs.")
        duration.add_metric([], int(counters.get("duration_seconds_count", 0)), counters.get("duration_seconds_sum", 0))
        yield duration

        cost = CounterMetricFamily(f"{NS}_cost_usd", "Claude cost reported by runs, in USD.")
        cost.add_metric([], counters.get("cost_usd_sum", 0))
        yield cost

        for field, help_text in (
            ("deferrals", "Jobs put back behind a closed gate without calling Claude."),
            ("failed", "Jobs that failed for good (kept in the failed registry)."),
        ):
            family = CounterMetricFamily(f"{NS}_{field}", help_text)
            family.add_metric([], counters.get(field, 0))
            yield family
