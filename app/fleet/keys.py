"""Redis key names of one deployment. Everything of ours lives under the deployment prefix."""

from __future__ import annotations

from dataclasses import dataclass

#: RQ's hash of one worker: ``rq:worker:<name>``
RQ_WORKER_PREFIX = "rq:worker:"
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

    @property
    def event_stream(self) -> str:
        """Stream: job and fleet events, capped (see ``events``)."""
        return f"{self.prefix}:event-stream"

    @property
    def credential(self) -> str:
        """Hash: the fleet's shared credential, encrypted, with its version (see ``shared_login``)."""
        return f"{self.prefix}:credential"

    @property
    def oauth_refresh_lock(self) -> str:
        """String with a TTL: the worker refreshing the fleet's claude.ai login now."""
        return f"{self.prefix}:oauth-refresh-lock"

    @property
    def oauth_refresh_fence(self) -> str:
        """Counter: fencing tokens for login refreshes (a newer one always wins)."""
        return f"{self.prefix}:oauth-refresh-fence"

    @property
    def login_banner(self) -> str:
        """String with a TTL: a worker already showed the fleet how to log in (one banner per fleet)."""
        return f"{self.prefix}:login-banner"

    @property
    def stats(self) -> str:
        """Hash: fleet-wide counters (see ``stats``)."""
        return f"{self.prefix}:stats"

    @property
    def spend_by_day(self) -> str:
        """Hash: US dollars spent per day (``YYYY-MM-DD`` in the operator's time zone)."""
        return f"{self.prefix}:spend-by-day"

    @property
    def batches(self) -> str:
        """Sorted set: batch id -> when it was first submitted."""
        return f"{self.prefix}:batches"

    @property
    def clients(self) -> str:
        """Hash: client name -> its record as JSON (limits, the SHA-256 of its key; see ``clients``)."""
        return f"{self.prefix}:clients"

    @property
    def client_keys(self) -> str:
        """Hash: SHA-256 of an active client key -> the client's name."""
        return f"{self.prefix}:client-keys"

    def client_spend(self, name: str) -> str:
        """Hash: one client's US dollars per day (``YYYY-MM-DD`` in the operator's time zone)."""
        return f"{self.prefix}:client-spend:{name}"

    def client_open(self, name: str) -> str:
        """Set: one client's jobs that have not ended (counted against its max_queued)."""
        return f"{self.prefix}:client-open:{name}"

    def client_running(self, name: str) -> str:
        """Sorted set: one client's jobs running now (counted against its max_running)."""
        return f"{self.prefix}:client-running:{name}"

    @property
    def fair_starts(self) -> str:
        """Sorted set: queued job id -> its virtual start time (see ``fairness``)."""
        return f"{self.prefix}:fair-starts"

    @property
    def fair_last(self) -> str:
        """Hash: client -> the virtual start time of its latest queued job."""
        return f"{self.prefix}:fair-last"

    @property
    def fair_time(self) -> str:
        """String: the fleet's virtual time (the start time of the job taken last)."""
        return f"{self.prefix}:fair-time"

    @property
    def fair_clients(self) -> str:
        """Hash: queued job id -> its client ("" for the operator's)."""
        return f"{self.prefix}:fair-clients"

    def worker_stats(self, worker: str) -> str:
        """Hash: one worker's own counters (attempts by outcome); expires a week after its last write."""
        return f"{self.prefix}:stats:worker:{worker}"

    def batch(self, batch_id: str) -> str:
        """The stem of one batch's keys (``:jobs``, ``:order``, ``:seen``; see ``app.jobs.batch``)."""
        return f"{self.prefix}:batch:{batch_id}"

    def batch_order(self, batch_id: str) -> str:
        """List: the batch's custom_ids in submission order."""
        return f"{self.batch(batch_id)}:order"

    def batch_ended(self, batch_id: str) -> str:
        """Set: the batch's jobs that have ended (a requeue takes one out again)."""
        return f"{self.batch(batch_id)}:ended"

    def batch_callback(self, batch_id: str) -> str:
        """String: where the batch's webhook goes when its last job ends."""
        return f"{self.batch(batch_id)}:callback"

    def batch_callback_sent(self, batch_id: str) -> str:
        """String: the batch's webhook is owed or sent (a re-submission does not send another)."""
        return f"{self.batch(batch_id)}:callback-sent"

    @property
    def webhook_queue(self) -> str:
        """Sorted set: webhook delivery id -> when it is due (see ``deliveries``)."""
        return f"{self.prefix}:webhooks"

    def webhook(self, delivery_id: str) -> str:
        """Hash: one webhook delivery (what, where, which try, the body once built)."""
        return f"{self.prefix}:webhook:{delivery_id}"

    def webhook_log(self, subject: str) -> str:
        """List of JSON: every try of every webhook of one job or batch, in order."""
        return f"{self.prefix}:webhook-log:{subject}"

    # RQ's own keys of our queue, for reads that must not run RQ's cleanups as a side effect
    @property
    def rq_queue(self) -> str:
        return f"rq:queue:{self.queue}"

    @property
    def rq_workers(self) -> str:
        return f"rq:workers:{self.queue}"

    def rq_registry(self, name: str) -> str:
        """``rq:<name>:<queue>`` for name in wip (started), scheduled, failed, finished, canceled."""
        return f"rq:{name}:{self.queue}"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}:idem:{key}"

    def health_slot(self, slot: str) -> str:
        """String ``<host>:<port>|<url>``: the worker that holds health slot ``slot`` (see ``presence``)."""
        return f"{self.prefix}:health-slot:{slot}"

    @staticmethod
    def rq_job(job_id: str) -> str:
        """RQ's hash of one job (any queue's: jobs share RQ's namespace)."""
        return f"rq:job:{job_id}"

    @staticmethod
    def rq_jobs_starting_with(prefix: str) -> str:
        """SCAN pattern for the jobs whose id starts with ``prefix`` (which must hold no glob characters)."""
        return f"rq:job:{prefix}*"

    def session_owner(self, session_id: str) -> str:
        """String: the client a Claude session belongs to ("" for the operator's jobs; see ``sessions``)."""
        return f"{self.prefix}:session-owner:{session_id}"

    def requeue_lock(self, job_id: str) -> str:
        """Lock: one requeue of ``job_id`` at a time."""
        return f"{self.prefix}:requeue-lock:{job_id}"
