"""Turn what a CLI run printed into a ``ClaudeResult`` or exactly one typed error.

Facts this rests on (``shared/claude-cli-facts.md``): every error exits 1; ``subtype`` says
"success" on errors, so only ``is_error`` counts; the reset epoch is only in stream-json
(``rate_limit_event`` and the assistant's ``api_error_params``); unknown ``api_error`` values
must be treated as absent; no result line at all is always a failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.claude.request import ClaudeResult
from app.claude.reset_time import parse_reset_time
from app.errors import (
    AuthRequired,
    BillingRequired,
    BudgetExhausted,
    ClaudeError,
    ClaudeServerError,
    ClaudeTimeout,
    InvalidRequest,
    MaxTurnsReached,
    Overloaded,
    RateLimited,
    UsageLimitReached,
)

#: the api_error values this version knows; anything else is treated as absent (the CLI's schema says so)
KNOWN_API_ERRORS = frozenset(
    {
        "usage_limit_reached",
        "model_requires_usage_credits",
        "connection_failed",
        "no_response",
        "stream_idle_timeout",
        "api_key_auth_disabled",
        "org_disabled_credential",
        "stored_login_refused",
        "oauth_refresh_store_refused",
        "network_edge_blocked",
        "tls_untrusted_ca",
    }
)
_AUTH_API_ERRORS = frozenset(
    {"api_key_auth_disabled", "org_disabled_credential", "stored_login_refused", "oauth_refresh_store_refused"}
)
_AUTH_ASSISTANT_ERRORS = frozenset(
    {"authentication_failed", "oauth_org_not_allowed", "account_on_hold", "verification_required"}
)

_AUTH_TEXT = re.compile(
    r"^(not logged in|invalid api key|invalid auth token|oauth token revoked|login expired"
    r"|login reached its time limit|failed to authenticate|your anthropic_api_key belongs to a disabled organization"
    r"|your organization has disabled api key authentication)",
    re.IGNORECASE,
)
_USAGE_LIMIT_TEXT = re.compile(r"^you've hit your\b|usage limit reached", re.IGNORECASE)
_BILLING_TEXT = re.compile(
    r"credit balance is too low|out of usage credits|org is out of usage|seat type doesn't include usage credits"
    r"|usage allocation has been disabled|group's usage limit is set to \$0|this service is disabled for your org",
    re.IGNORECASE,
)
_LIMIT_NAME = re.compile(r"you've hit your (?P<name>.+?)(?: · |$)", re.IGNORECASE)
_LIMIT_TYPES = {
    "5-hour limit": "five_hour",
    "session limit": "five_hour",
    "weekly limit": "seven_day",
    "opus limit": "seven_day_opus",
    "sonnet limit": "seven_day_sonnet",
    "usage credit limit": "overage",
}
ROOT_REFUSAL = "cannot be used with root/sudo privileges"


@dataclass
class StreamState:
    """What the reader has seen of one run's stream-json so far."""

    rate_limit: dict[str, Any] | None = None
    rejected_limit: dict[str, Any] | None = None
    retries: list[dict[str, Any]] = field(default_factory=list)
    assistant_error: str | None = None
    assistant_api_error: str | None = None
    assistant_limit: dict[str, Any] | None = None
    session_id: str | None = None
    model: str | None = None
    result: dict[str, Any] | None = None

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self.session_id = event.get("session_id") or self.session_id
        if kind == "rate_limit_event":
            info = event.get("rate_limit_info")
            if isinstance(info, dict):
                self.rate_limit = info
                if info.get("status") == "rejected":
                    self.rejected_limit = info
        elif kind == "system" and event.get("subtype") == "api_retry":
            self.retries.append(event)
        elif kind == "system" and event.get("subtype") == "init":
            self.model = event.get("model") or self.model
        elif kind == "assistant":
            if event.get("error"):
                self.assistant_error = str(event["error"])
            api_error = event.get("api_error")
            if api_error in KNOWN_API_ERRORS:
                self.assistant_api_error = str(api_error)
            params = event.get("api_error_params")
            if isinstance(params, dict) and isinstance(params.get("rate_limit_info"), dict):
                self.assistant_limit = params["rate_limit_info"]
        elif kind == "result":
            self.result = event


def retry_to_cut(event: dict[str, Any], *, can_refresh: bool) -> ClaudeError | None:
    """An ``api_retry`` that the fleet should handle instead of the CLI, as the error to raise.

    The CLI treats ``retry-after`` as a floor between its own attempts, so a 429 costs
    retry-after × attempts before it reports anything; the fleet's gate waits instead. A 401
    on a credential that cannot be refreshed (an API key, a gateway or ``setup-token`` token)
    will not improve on a re-send; a ``claude auth login`` session may refresh, so it may retry.
    """
    status = event.get("error_status")
    if status == 429 or event.get("error") == "rate_limit":
        delay = event.get("retry_delay_ms")
        retry_after = float(delay) / 1000 if isinstance(delay, int | float) else None
        return RateLimited(
            "Claude is rate limiting requests (429); the CLI was stopped before its own retries.",
            retry_after=retry_after,
            api_status=429,
        )
    if status == 401 and not can_refresh:
        return AuthRequired("Claude rejected the credential (401).", api_status=401)
    return None


def _limit_type_from_text(text: str) -> str | None:
    match = _LIMIT_NAME.search(text)
    if not match:
        return None
    return _LIMIT_TYPES.get(match["name"].strip().lower(), match["name"].strip().lower().replace(" ", "_"))


def _usage_limit(state: StreamState, text: str) -> UsageLimitReached:
    info = state.rejected_limit or state.assistant_limit or {}
    resets_at = info.get("resetsAt")
    if not isinstance(resets_at, int | float):
        resets_at = parse_reset_time(text)
    limit_type = info.get("rateLimitType") or _limit_type_from_text(text)
    return UsageLimitReached(
        text or "The usage limit is reached.",
        resets_at=float(resets_at) if resets_at is not None else None,
        limit_type=str(limit_type) if limit_type else None,
        api_status=429,
    )


def _last_retry_delay(state: StreamState) -> float | None:
    if not state.retries:
        return None
    delay = state.retries[-1].get("retry_delay_ms")
    return float(delay) / 1000 if isinstance(delay, int | float) else None


def classify_result(state: StreamState) -> ClaudeResult:
    """The success in ``state.result``, or raise the error it stands for."""
    result = state.result
    if result is None:
        raise ClaudeServerError("The Claude CLI ended without a result line.")
    if not result.get("is_error"):
        return ClaudeResult(
            text=str(result.get("result") or ""),
            engine="cli",
            session_id=result.get("session_id") or state.session_id,
            cost_usd=result.get("total_cost_usd"),
            usage=result.get("usage") or {},
            num_turns=result.get("num_turns"),
            duration_ms=result.get("duration_ms"),
            model=next(iter(result.get("modelUsage") or {}), None) or state.model,
            structured_output=result.get("structured_output"),
            rate_limit=state.rate_limit,
        )
    raise classify_error(state)


def classify_error(state: StreamState) -> ClaudeError:
    result = state.result or {}
    text = str(result.get("result") or "")
    errors = result.get("errors")
    if not text and isinstance(errors, list) and errors:
        text = "; ".join(str(e) for e in errors)
    subtype = result.get("subtype")
    status = result.get("api_error_status")
    err_type = result.get("api_error_type")
    api_error = result.get("api_error") if result.get("api_error") in KNOWN_API_ERRORS else None
    api_error = api_error or state.assistant_api_error
    assistant = state.assistant_error

    if subtype == "error_max_turns":
        return MaxTurnsReached(text or "The job reached its max_turns.")
    if subtype == "error_max_budget_usd":
        return BudgetExhausted(text or "The job reached its max_budget_usd.")
    if api_error == "usage_limit_reached" or state.rejected_limit or _USAGE_LIMIT_TEXT.search(text):
        return _usage_limit(state, text)
    if assistant == "billing_error" or api_error == "model_requires_usage_credits" or _BILLING_TEXT.search(text):
        return BillingRequired(text or "Claude reports a billing problem.", api_status=status)
    if (
        assistant in _AUTH_ASSISTANT_ERRORS
        or api_error in _AUTH_API_ERRORS
        or status in (401, 403)
        or err_type in ("authentication_error", "permission_error")
        or _AUTH_TEXT.search(text)
    ):
        return AuthRequired(text or "Claude rejected the credential.", api_status=status)
    if status == 529 or err_type == "overloaded_error" or "529 overloaded" in text.lower():
        return Overloaded(
            text or "Anthropic is overloaded (529).", retry_after=_last_retry_delay(state), api_status=529
        )
    if status == 429 or assistant == "rate_limit":
        return RateLimited(text or "Rate limited (429).", retry_after=_last_retry_delay(state), api_status=429)
    if status == 400 or err_type == "invalid_request_error" or assistant in ("invalid_request", "model_not_found"):
        return InvalidRequest(text or "Claude refused the request as invalid.", api_status=status)
    if text.startswith("Request timed out"):
        return ClaudeServerError(text, hint="Set CLAUDE_API_TIMEOUT_MS higher if the API or a gateway is slow.")
    return ClaudeServerError(text or f"Claude failed ({subtype or 'no detail'}).", api_status=status)


def classify_exit(state: StreamState, returncode: int, stderr: str, timed_out: bool, timeout: float) -> ClaudeError:
    """The error for a run that printed no result line."""
    if timed_out:
        return ClaudeTimeout(f"The run took longer than its {timeout:g} s limit and was killed.")
    if ROOT_REFUSAL in stderr:
        return InvalidRequest(
            "The CLI refuses this permission mode when running as root.",
            hint="Run the worker as a non-root user, or set IS_SANDBOX=1 inside a sandboxed container.",
        )
    if returncode < 0 or returncode in (143, 137):
        return ClaudeServerError(f"The Claude CLI was stopped by a signal (exit {returncode}) before it finished.")
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
    return ClaudeServerError(f"The Claude CLI exited {returncode} without a result: {tail}", detail=stderr[-2000:])
