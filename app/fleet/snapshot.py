"""One consistent look at the fleet: gate, queues, workers. Read-only, no side effects.

It deliberately avoids ``rq info`` style calls that run registry cleanups (and failure
callbacks) as a side effect of looking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from app.fleet import stats
from app.fleet.keys import RQ_WORKER_PREFIX, Keys
from app.fleet.state import ACTIONS, SEED_LABELS, FleetState
from app.settings import Settings
from app.states import State


@dataclass
class FleetSnapshot:
    gate: FleetState
    probe_holder: str | None
    queued: int
    scheduled: int
    started: int
    finished: int
    failed: int
    workers: list[dict[str, Any]] = field(default_factory=list)
    spend: dict[str, float] = field(default_factory=dict)
    timezone: str = "UTC"

    @property
    def state(self) -> str:
        """The fleet state as reported: the gate's, except auth_required while no worker has a
        credential (the gate itself closes only when a job meets Claude's refusal)."""
        if self.gate.is_open and self.workers and all(w.get("credential") is False for w in self.workers):
            return State.AUTH_REQUIRED
        return self.gate.state

    @property
    def label(self) -> str:
        return SEED_LABELS.get(self.state, self.state)

    @property
    def runnable(self) -> int:
        """Jobs a new worker could start now: 0 while the gate is closed (autoscalers read this)."""
        return self.queued if self.gate.is_open else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "label": self.label,
            "action": ACTIONS.get(self.state, ""),
            "gate": self.gate.to_dict(),
            "probe_holder": self.probe_holder,
            "queues": {
                "queued": self.queued,
                "runnable": self.runnable,
                "waiting": self.queued - self.runnable,
                "scheduled": self.scheduled,
                "started": self.started,
                "finished": self.finished,
                "failed": self.failed,
            },
            "workers": self.workers,
            "spend": {**self.spend, "timezone": self.timezone},
        }


def take(conn: Redis, settings: Settings, *, with_workers: bool = True) -> FleetSnapshot:
    keys = Keys(settings.claude_workers_prefix)
    now = time.time()
    with conn.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.fleet)
        pipe.get(keys.probe_lock)
        pipe.llen(keys.rq_queue)
        pipe.zcard(keys.rq_registry("scheduled"))
        pipe.zcount(keys.rq_registry("wip"), now, "+inf")
        pipe.zcard(keys.rq_registry("finished"))
        pipe.zcard(keys.rq_registry("failed"))
        pipe.smembers(keys.rq_workers)
        gate_raw, holder, queued, scheduled, started, finished, failed, worker_keys = pipe.execute()
    workers: list[dict[str, Any]] = []
    if with_workers and worker_keys:
        ordered = sorted(k.decode() for k in worker_keys)
        with conn.pipeline(transaction=False) as pipe:
            for key in ordered:
                pipe.hmget(
                    key,
                    "state",
                    "current_job",
                    "last_heartbeat",
                    "health_port",
                    "health_url",
                    "health_slot",
                    "credential",
                    "birth",
                )
            rows = pipe.execute()
        for key, values in zip(ordered, rows, strict=True):
            state, job, beat, port, url, slot, credential, birth = (
                v.decode() if isinstance(v, bytes) else v for v in values
            )
            if state is None:  # expired between the two reads
                continue
            workers.append(
                {
                    "name": key.removeprefix(RQ_WORKER_PREFIX),
                    "state": state,
                    "current_job": job or None,
                    "last_heartbeat": beat,
                    "health_port": int(port) if port else None,
                    "health_url": url or None,
                    # port 8080+slot of the health gateway (the compose file's `health` service)
                    "health_slot": int(slot) if slot else None,
                    "credential": None if credential is None else credential == "1",
                    "started_at": birth,
                }
            )
    return FleetSnapshot(
        gate=FleetState.from_redis(gate_raw),
        probe_holder=holder.decode() if isinstance(holder, bytes) else None,
        queued=int(queued),
        scheduled=int(scheduled),
        started=int(started),
        finished=int(finished),
        failed=int(failed),
        workers=workers,
        spend=stats.spend(conn, keys.spend_by_day, settings.timezone),
        timezone=settings.claude_workers_timezone,
    )
