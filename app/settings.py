"""One typed settings object, read from the environment (and an optional ``.env``).

Every field is documented in ``docs/configuration.md`` and ``.env.example``; the env name
of a field is its name in upper case.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app import fleet_address
from app.errors import ConfigError

#: where ``npm ci`` at the project root puts the pinned CLI
PINNED_CLAUDE_BIN = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "claude"


class Settings(BaseSettings):
    # an empty variable means "not set" everywhere: compose passes every setting as ${NAME:-}
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True)

    # --- where things are ---------------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        description="Redis for the queue and the fleet state. Unset: `claude-workers up` starts an embedded "
        "server, and every other command uses the local fleet's while it runs (never a silent default).",
    )
    claude_config_dir: Path = Field(
        default=Path("~/.config/claude"),
        description="The Claude config dir every worker shares (the compose volume).",
    )
    claude_bin: str | None = Field(default=None, description="The Claude Code CLI. Default: the pinned one, else PATH.")
    claude_workspace_root: Path = Field(
        default=Path(tempfile.gettempdir()) / "claude-workers" / "workspaces",
        description="Jobs run in directories under here; a job's workspace can never leave it.",
    )
    claude_workers_data_dir: Path = Field(
        default=Path("~/.local/share/claude-workers"),
        description="`claude-workers up` keeps its embedded Redis (AOF) here.",
    )
    claude_workers_prefix: str = Field(
        default="claude-workers",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Redis key prefix and queue name: one per deployment sharing a Redis.",
    )

    # --- how Claude is called -----------------------------------------------------
    claude_auth_mode: Literal["auto", "subscription", "api_key"] = "auto"
    claude_cli_max_retries: int = Field(default=2, ge=0, le=15)
    claude_job_timeout: float = Field(default=900.0, gt=0, le=7 * 24 * 3600)
    claude_api_timeout_ms: int | None = Field(default=None, gt=0)
    claude_model: str | None = None
    claude_api_max_tokens: int = Field(default=4096, gt=0)
    claude_sandbox: Literal["auto", "bwrap", "off"] = Field(
        default="auto",
        description="Sandbox each CLI run with bubblewrap: auto (when it works here), bwrap (always), off.",
    )
    claude_session_retention: int = Field(
        default=7 * 86400, ge=0, description="Seconds a run's session transcript is kept for resume_session_id."
    )
    anthropic_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="Where Claude requests go (a gateway, or the tests' fake API). Unset: Anthropic.",
    )

    # --- the fleet gate: when to probe again, per state ------------------------------
    claude_auth_retry_delay: float = Field(default=300.0, gt=0, description="Seconds between auth probes.")
    claude_quota_retry_delay: float = Field(default=3600.0, gt=0, description="First quota step without a reset time.")
    claude_quota_backoff_multiplier: float = Field(default=1.5, ge=1.0)
    claude_quota_max_delay: float = Field(default=14400.0, gt=0)
    claude_quota_reset_jitter: float = Field(default=2.0, ge=0, le=5, description="Max seconds after resets_at.")
    claude_rate_limit_delay: float = Field(default=30.0, gt=0, description="First rate-limit step without retry-after.")
    claude_overloaded_delay: float = Field(default=15.0, gt=0)
    claude_short_backoff_max: float = Field(default=600.0, gt=0, description="Cap for rate-limit/overload steps.")
    claude_gate_poll_interval: float = Field(default=0.5, gt=0, le=10)

    # --- a job's own attempts -----------------------------------------------------
    claude_auth_max_retries: int = Field(default=288, ge=1, description="Auth/billing failures before a job fails.")
    claude_quota_max_retries: int = Field(default=12, ge=1)
    claude_job_max_retries: int = Field(default=3, ge=0, description="Other errors (5xx, timeouts, 429, 529).")
    claude_job_retry_delays: str = Field(default="10,60,300", pattern=r"^\s*\d+(\s*,\s*\d+)*\s*$")
    claude_crash_max_retries: int = Field(default=5, ge=0, description="Re-runs after a worker or horse is killed.")
    claude_result_ttl: int = Field(default=7 * 86400, ge=1)

    # --- worker process -------------------------------------------------------------
    health_port: int | None = Field(default=None, ge=1, le=65535, description="Default: first free of 8080-8089.")
    health_host: str = Field(default="127.0.0.1", description="0.0.0.0 in containers.")
    claude_redis_wait: float = Field(default=60.0, ge=0, description="Seconds a starting worker waits for Redis.")
    claude_shutdown_grace: float = Field(default=600.0, ge=0, description="Seconds a SIGTERMed worker finishes a job.")
    claude_worker_ttl: int = Field(default=30, ge=20)
    claude_maintenance_interval: int = Field(
        default=15,
        ge=5,
        description="Seconds between RQ's maintenance (abandoned-job recovery) and each worker's sweep of what "
        "canceled or deleted jobs left on its workspaces volume.",
    )
    claude_job_monitoring_interval: int = Field(default=10, ge=2)
    claude_execution_grace: int = Field(
        default=20,
        ge=1,
        le=3600,
        description="Seconds past its last heartbeat before a running job counts as abandoned and is re-run.",
    )
    claude_preload_api_engine: bool = Field(default=True, description="Import the Anthropic SDK at worker start.")

    # --- the jobs API ---------------------------------------------------------------
    claude_workers_api_token: SecretStr | None = Field(
        default=None, description="Bearer token for the API. Unset: the API listens on 127.0.0.1 only."
    )
    claude_workers_api_published_on: str | None = Field(
        default=None,
        description="Containers only: the host address Docker publishes the API on (compose sets it from "
        "CLAUDE_WORKERS_API_BIND). When it is loopback, the API may listen on 0.0.0.0 inside its container "
        "without a token, since only this machine reaches it.",
    )
    # --- what API and batch clients may ask for (app/jobs/policy.py) ----------------
    claude_workers_allowed_tools: str = Field(
        default="Read,Glob,Grep,LS,Edit,MultiEdit,Write,NotebookEdit,NotebookRead,TodoWrite,Task,WebSearch,WebFetch",
        description="Tools a job may list in allowed_tools (comma-separated names; * for any). No Bash by default.",
    )
    claude_workers_allowed_permission_modes: str = Field(
        default="default,plan,acceptEdits,dontAsk,manual",
        description="Permission modes a job may ask for (* for any). No bypassPermissions or auto by default.",
    )
    claude_workers_allowed_models: str = Field(default="*", description="Models a job may ask for (* for any).")
    claude_workers_max_turns: int | None = Field(default=200, ge=1, description="The most max_turns a job may ask.")
    claude_workers_max_budget_usd: float | None = Field(
        default=25.0, gt=0, allow_inf_nan=False, description="The most max_budget_usd a job may ask."
    )
    claude_workers_max_timeout: float | None = Field(
        default=6 * 3600.0, gt=0, allow_inf_nan=False, description="The most timeout (seconds) a job may ask."
    )
    claude_workers_api_max_body: int = Field(default=1_048_576, ge=1024, description="Largest request body, bytes.")
    claude_workers_allowed_repos: str = Field(
        default="",
        description="Where a job's repo may come from: comma-separated prefixes of https URLs or local "
        "directories (e.g. https://github.com/acme/,/srv/git/). Empty: jobs may not name a repo.",
    )
    claude_workers_diff_max_bytes: int = Field(
        default=262_144,
        ge=1024,
        le=64 * 1024 * 1024,
        description="The largest diff a job's result carries; a longer one is cut there, and the result says so.",
    )
    claude_fleet_daily_budget_usd: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="The fleet's own cap on what its jobs cost a day: past it the gate closes (budget_exceeded) "
        "until the day turns; running jobs finish. Unset: no cap.",
    )
    claude_fleet_monthly_budget_usd: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="The same cap for a calendar month."
    )
    claude_workers_timezone: str = Field(
        default="UTC",
        description="The operator's time zone (an IANA name such as Europe/Berlin): where a day and a week of "
        "spending begin and end.",
    )

    # --- the login shared across hosts (app/fleet/shared_login.py) -----------------
    claude_workers_secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (the same on every host) that encrypts the fleet's credential in Redis, so "
        "workers on other hosts get it without a shared volume; NEW,OLD during a rotation. Unset: the "
        "credential stays in the shared config dir and never reaches Redis. Make one: "
        "python -m app.claude_auth_manager new-key",
    )
    claude_workers_credential_poll: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between a worker's looks at the shared credential's version."
    )

    claude_oauth_token_url: str = Field(
        default="https://platform.claude.com/v1/oauth/token",
        description="Where a claude.ai login is refreshed (the CLI's own token endpoint).",
    )
    claude_oauth_client_id: str = Field(
        default="9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        description="The OAuth client id a claude.ai login belongs to (the Claude Code CLI's).",
    )
    claude_oauth_refresh_margin: float = Field(
        default=300.0,
        ge=0,
        description="Seconds before a claude.ai login's access token expires when one worker refreshes it for all.",
    )

    # --- webhooks: a POST when a job or batch ends (app/jobs/webhooks.py) ----------
    claude_workers_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret that signs every webhook (HMAC-SHA256); the API and the workers need the same. "
        "Unset: jobs with a callback_url are refused. "
        "Make one: python -c 'import secrets; print(secrets.token_hex(32))'",
    )
    claude_workers_webhook_allow_private: bool = Field(
        default=False,
        description="Allow callback URLs on loopback, link-local and private addresses (a receiver inside "
        "your own network). Off: only public addresses, checked at submit and again at each delivery.",
    )
    claude_workers_webhook_retry_delays: str = Field(
        default="10,30,120,600,1800,3600",
        pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$",
        description="Seconds before each retry of a webhook the receiver did not accept (2xx); one delivery "
        "more than there are delays, then it is given up (recorded on the job).",
    )
    claude_workers_webhook_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds a webhook receiver has to answer."
    )

    # --- credentials the worker's own environment may carry -----------------------
    anthropic_api_key: SecretStr | None = None
    claude_code_oauth_token: SecretStr | None = None
    anthropic_auth_token: SecretStr | None = None

    @property
    def config_dir(self) -> Path:
        return self.claude_config_dir.expanduser()

    @field_validator("claude_workers_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone name this machine knows (e.g. UTC, Europe/Berlin)"
            ) from None
        return value

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.claude_workers_timezone)

    @field_validator(
        "claude_workers_api_token",
        "claude_workers_secret_key",
        "claude_workers_webhook_secret",
        "anthropic_api_key",
        "claude_code_oauth_token",
        "anthropic_auth_token",
        mode="after",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # `FOO=` in a compose file or .env means "not set", never "an empty password"
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def workspace_root(self) -> Path:
        return self.claude_workspace_root.expanduser()

    @property
    def job_retry_delays(self) -> list[int]:
        return [int(v) for v in self.claude_job_retry_delays.split(",")]

    @property
    def webhook_retry_delays(self) -> list[float]:
        return [float(v) for v in self.claude_workers_webhook_retry_delays.split(",")]

    @property
    def data_dir(self) -> Path:
        return self.claude_workers_data_dir.expanduser()

    @property
    def effective_redis_url(self) -> str:
        """REDIS_URL; else the local fleet's Redis while `claude-workers up` runs; else NoFleet."""
        return fleet_address.redis_url(self.redis_url, self.data_dir)

    def resolve_claude_bin(self) -> str:
        """The CLI to run: CLAUDE_BIN, else the pinned install, else ``claude`` on PATH."""
        if self.claude_bin:
            found = shutil.which(self.claude_bin)
            if found:
                return found
            raise ConfigError(
                f"CLAUDE_BIN={self.claude_bin!r} is not an executable.",
                hint="Point CLAUDE_BIN at the Claude Code CLI, or unset it to use the pinned one (run: npm ci).",
            )
        if PINNED_CLAUDE_BIN.exists():
            return str(PINNED_CLAUDE_BIN)
        found = shutil.which("claude")
        if found:
            return found
        raise ConfigError(
            "The Claude Code CLI was not found.",
            hint="Install the pinned version with `npm ci` in the project root, or set CLAUDE_BIN.",
        )


def load_settings() -> Settings:
    """Read settings now, turning validation errors into a ConfigError that names the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError(
            "Invalid configuration: " + "; ".join(problems),
            hint="Fix these environment variables (see docs/configuration.md).",
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
