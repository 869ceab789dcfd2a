"""Run a plain prompt (no tools, no agent loop) through the Anthropic SDK with an API key.

It needs no CLI process (about 200 MB less per running job) but only takes an API key:
``claude setup-token`` tokens work with Claude Code only. The SDK's own retries are off;
retrying is the fleet's decision.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.claude.credentials import Credential, CredentialKind
from app.claude.request import ClaudeResult, RunRequest
from app.errors import (
    AuthRequired,
    BillingRequired,
    ClaudeError,
    ClaudeServerError,
    ClaudeTimeout,
    InvalidRequest,
    Overloaded,
    RateLimited,
    UsageLimitReached,
)
from app.settings import Settings

if TYPE_CHECKING:
    import anthropic

DEFAULT_API_MODEL = "claude-sonnet-5-5"

#: USD per million input / output tokens, by model family; an estimate when the API gives none
PRICES_PER_MTOK = {"opus": (5.0, 25.0), "sonnet": (3.0, 15.0), "haiku": (1.0, 5.0)}


def estimate_cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    for family, (p_in, p_out) in PRICES_PER_MTOK.items():
        if family in model:
            return round((input_tokens * p_in + output_tokens * p_out) / 1_000_000, 8)
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if value else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify_api_error(exc: anthropic.APIError) -> ClaudeError:
    """Map an SDK exception to the same error tree the CLI engine uses."""
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return ClaudeTimeout("The Anthropic API did not answer in time.")
    if isinstance(exc, anthropic.APIConnectionError):
        return ClaudeServerError(f"Cannot reach the Anthropic API: {exc.message}")
    if not isinstance(exc, anthropic.APIStatusError):
        return ClaudeServerError(f"Anthropic API error: {exc.message}")
    status = exc.status_code
    headers = exc.response.headers
    message = exc.message
    if status in (401, 403):
        return AuthRequired(f"The Anthropic API rejected the API key ({status}): {message}", api_status=status)
    if status == 429:
        if _header(headers, "anthropic-ratelimit-unified-status") == "rejected":
            return UsageLimitReached(
                f"Usage limit reached: {message}",
                resets_at=_float(_header(headers, "anthropic-ratelimit-unified-reset")),
                limit_type=_header(headers, "anthropic-ratelimit-unified-representative-claim"),
                api_status=429,
            )
        return RateLimited(
            f"Rate limited (429): {message}",
            retry_after=_float(_header(headers, "retry-after")),
            api_status=429,
        )
    if status == 529:
        return Overloaded(
            f"Anthropic is overloaded (529): {message}",
            retry_after=_float(_header(headers, "retry-after")),
            api_status=529,
        )
    lowered = message.lower()
    if "credit balance" in lowered or "out of usage" in lowered or "spend limit" in lowered:
        return BillingRequired(f"Billing: {message}", api_status=status)
    if 400 <= status < 500:
        return InvalidRequest(f"The Anthropic API refused the request ({status}): {message}", api_status=status)
    return ClaudeServerError(f"Anthropic API server error ({status}): {message}", api_status=status)


class ApiEngine:
    name = "api"

    def __init__(self, settings: Settings, parent_env: Mapping[str, str] | None = None) -> None:
        self.settings = settings

    def run(self, request: RunRequest, credential: Credential, on_event: Any = None) -> ClaudeResult:
        if credential.kind is not CredentialKind.API_KEY or credential.secret is None:
            raise AuthRequired(
                f"The api engine needs an API key, but the configured credential is a {credential.kind.value}.",
                hint="Store an API key (python -m app.claude_auth_manager setup --api-key-stdin), "
                "or run this job with engine cli.",
            )
        if request.uses_agent_features():
            raise InvalidRequest(
                "The api engine runs plain prompts only (no tools, turns, sessions or budgets).",
                hint="Submit this job with engine cli.",
            )
        # the SDK takes seconds to import; only processes that use this engine pay for it
        import anthropic

        timeout = request.timeout or self.settings.claude_job_timeout
        client = anthropic.Anthropic(
            api_key=credential.secret.get_secret_value(),
            base_url=self.settings.anthropic_base_url,
            max_retries=0,
            timeout=timeout,
        )
        model = request.model or self.settings.claude_model or DEFAULT_API_MODEL
        system = "\n\n".join(p for p in (request.system_prompt, request.append_system_prompt) if p)
        started = time.monotonic()
        try:
            with client:
                message = client.messages.create(
                    model=model,
                    max_tokens=request.max_tokens or self.settings.claude_api_max_tokens,
                    messages=[{"role": "user", "content": request.prompt}],
                    system=system or anthropic.omit,
                )
        except anthropic.APIError as exc:
            raise classify_api_error(exc) from None
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage.model_dump(exclude_none=True)
        return ClaudeResult(
            text=text,
            engine="api",
            session_id=message.id,
            cost_usd=estimate_cost(message.model, message.usage.input_tokens, message.usage.output_tokens),
            usage=usage,
            num_turns=1,
            duration_ms=int((time.monotonic() - started) * 1000),
            model=message.model,
        )
