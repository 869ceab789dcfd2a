"""Redis key names of one deployment. Everything of ours lives under the deployment prefix."""

from __future__ import annotations

from dataclasses import dataclass

#: health slots, one per worker: slot N is port 8080+N of the health gateway
HEALTH_SLOTS = 10


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def queue(self) -> str:
        """The RQ queue name (RQ adds its own ``rq:queue:`` prefix)."""
        return self.prefix

    @property
    def fleet(self) -> str:
        """Hash: the fleet state (see ``state.FleetState``)."""
        return f"{self.prefix}:fleet"

    @property
    def probe_lock(self) -> str:
        """String: the name of the worker running the current probe."""
        return f"{self.prefix}:probe"

    @property
    def events(self) -> str:
        """Pub/sub channel: gate changes and credential changes."""
        return f"{self.prefix}:events"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}:idem:{key}"

    def health_slot(self, slot: str) -> str:
        """String ``<host>:<port>|<url>``: the worker that holds health slot ``slot`` (see ``presence``)."""
        return f"{self.prefix}:health-slot:{slot}"

    def requeue_lock(self, job_id: str) -> str:
        """Lock: one requeue of ``job_id`` at a time."""
        return f"{self.prefix}:requeue-lock:{job_id}"
