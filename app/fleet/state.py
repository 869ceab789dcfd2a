"""The fleet state: one record per deployment, readable by anything that has the Redis URL.

``state`` is ``ready`` (the gate is open) or the word of the error that closed it. While it
is closed no worker starts a Claude job until ``until``; then one probe decides.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from app.states import State

READY = State.READY
CLOSED_STATES = tuple(s for s in State if s is not State.READY)
STATES = tuple(State)

#: the user guide's words for each state (a job that ran out of attempts is "Failed")
SEED_LABELS = {
    "ready": "Ready",
    "auth_required": "Auth Required",
    "quota_exceeded": "Quota Exceeded",
    "rate_limited": "Rate Limited",
    "overloaded": "Overloaded",
    "billing_required": "Billing Required",
    "budget_exceeded": "Budget Exceeded",
}

#: what an operator should do, per state
ACTIONS = {
    "ready": "Nothing: jobs are running.",
    "auth_required": "Log in once for the fleet: python -m app.claude_auth_manager setup",
    "quota_exceeded": "Nothing: jobs resume by themselves when the limit resets.",
    "rate_limited": "Nothing: jobs resume by themselves after a short backoff.",
    "overloaded": "Nothing: jobs resume by themselves after a short backoff.",
    "billing_required": "Add credits or raise the usage allowance, then: python -m app.claude_auth_manager test",
    "budget_exceeded": "Nothing: jobs resume when the spending period turns. To resume now: raise "
    "CLAUDE_FLEET_DAILY_BUDGET_USD (or _MONTHLY_) and restart the workers.",
}


@dataclass
class FleetState:
    state: str = READY
    until: float | None = None  # closed: the earliest time of the next probe
    reason: str = ""
    since: float | None = None  # when the current state began
    step: int = 0  # backoff step within this outage (0 for the first)
    resets_at: float | None = None
    limit_type: str | None = None
    last_probe_at: float | None = None
    last_probe_outcome: str | None = None
    last_success_at: float | None = None
    last_failure_at: float | None = None
    last_failure: str | None = None
    updated_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.state == READY

    @property
    def label(self) -> str:
        return SEED_LABELS.get(self.state, self.state)

    def probe_due(self, now: float | None = None) -> bool:
        return not self.is_open and (self.until is None or (now or time.time()) >= self.until)

    def to_redis(self) -> dict[str, str]:
        return {k: "" if v is None else str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_redis(cls, raw: dict[bytes, bytes] | dict[str, str]) -> FleetState:
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for key, value in raw.items():
            name = key.decode() if isinstance(key, bytes) else key
            text = value.decode() if isinstance(value, bytes) else value
            if name not in types:
                continue
            kind = str(types[name])
            if text == "":
                values[name] = None if "None" in kind else ("" if kind.startswith("str") else 0)
            elif kind.startswith("float"):
                values[name] = float(text)
            elif kind == "int":
                values[name] = int(text)
            else:
                values[name] = text
        state = cls(**values)
        state.state = State(state.state) if state.state in STATES else READY
        return state

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        now = now or time.time()
        data = asdict(self)
        data["label"] = self.label
        data["open"] = self.is_open
        data["next_probe_in"] = None if self.is_open or self.until is None else max(0.0, self.until - now)
        data["action"] = ACTIONS.get(self.state, "")
        return data
