"""Classification of CLI outcomes, fed with the shapes recorded in shared/claude-cli-facts.md."""

from typing import Any

import pytest

from app.claude.classify import StreamState, classify_exit, classify_result, retry_to_cut
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


def result(text: str | None, status: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": "success",  # the CLI says "success" on errors too
        "is_error": True,
        "result": text,
        "api_error_status": status,
        "terminal_reason": "api_error",
        "session_id": "s-1",
        **extra,
    }


def classify(*events: dict[str, Any]) -> ClaudeError:
    state = StreamState()
    for event in events:
        state.feed(event)
    with pytest.raises(ClaudeError) as info:
        classify_result(state)
    return info.value


def test_success_uses_is_error_not_subtype() -> None:
    state = StreamState()
    state.feed({"type": "system", "subtype": "init", "model": "claude-opus-5-5", "session_id": "s-9"})
    state.feed(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "result": "OK",
            "total_cost_usd": 0.000104,
            "num_turns": 1,
            "duration_ms": 112,
            "session_id": "s-9",
            "usage": {"input_tokens": 11, "output_tokens": 3},
            "modelUsage": {"claude-opus-5-5": {"costUSD": 0.000104}},
        }
    )
    got = classify_result(state)
    assert (got.text, got.cost_usd, got.session_id, got.model, got.num_turns) == (
        "OK",
        0.000104,
        "s-9",
        "claude-opus-5-5",
        1,
    )


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Not logged in · Please run /login", None),
        ("Not logged in · Please run /login", 401),  # a rejected env OAuth token
        ("Invalid API key · Fix external API key", 401),
        ("Invalid auth token · Fix external auth token", 401),
        ("OAuth token revoked · Please run /login", 401),
        ("Login expired · Please run /login", None),
        ("Failed to authenticate: OAuth session expired and could not be refreshed", None),
        ("Failed to authenticate. API Error: 403 Your API key does not have permission", 403),
    ],
)
def test_auth_texts(text: str, status: int | None) -> None:
    assert isinstance(classify(result(text, status)), AuthRequired)


def test_usage_limit_takes_the_epoch_from_the_stream() -> None:
    event = {
        "type": "rate_limit_event",
        "rate_limit_info": {"status": "rejected", "resetsAt": 1795909512, "rateLimitType": "five_hour"},
    }
    err = classify(
        event, result("You've hit your 5-hour limit · resets 11:45pm (UTC)", 429, api_error="usage_limit_reached")
    )
    assert isinstance(err, UsageLimitReached)
    assert (err.resets_at, err.limit_type) == (1795909512, "five_hour")


def test_usage_limit_epoch_from_assistant_params() -> None:
    assistant = {
        "type": "assistant",
        "error": "rate_limit",
        "api_error": "usage_limit_reached",
        "api_error_params": {"rate_limit_info": {"resetsAt": 1796243292, "rateLimitType": "seven_day"}},
    }
    err = classify(assistant, result("You've hit your weekly limit · resets Dec 2, 11:38pm (Europe/Berlin)", 429))
    assert isinstance(err, UsageLimitReached)
    assert (err.resets_at, err.limit_type) == (1796243292, "seven_day")


def test_usage_limit_falls_back_to_the_text() -> None:
    err = classify(result("You've hit your weekly limit · resets Dec 2, 11:38pm (Europe/Berlin)", 429))
    assert isinstance(err, UsageLimitReached)
    assert err.limit_type == "seven_day"
    assert err.resets_at is not None


def test_old_session_limit_wording() -> None:
    err = classify(result("You've hit your session limit · resets 11:53pm (UTC)"))
    assert isinstance(err, UsageLimitReached) and err.limit_type == "five_hour"


@pytest.mark.parametrize(
    "text",
    [
        "Credit balance is too low",
        "Your org is out of usage · add funds to continue",
        "You're out of usage credits",
    ],
)
def test_billing(text: str) -> None:
    assert isinstance(classify(result(text, 400)), BillingRequired)


def test_billing_from_assistant_error() -> None:
    assert isinstance(classify({"type": "assistant", "error": "billing_error"}, result("x", 400)), BillingRequired)


def test_overloaded_and_rate_limited() -> None:
    retry = {"type": "system", "subtype": "api_retry", "retry_delay_ms": 2105, "error_status": 529}
    err = classify(retry, result("API Error: Repeated 529 Overloaded errors.", 529, api_error_type="overloaded_error"))
    assert isinstance(err, Overloaded) and err.retry_after == pytest.approx(2.105)
    err = classify(result("API Error: Request rejected (429) · would exceed the rate limit", 429))
    assert isinstance(err, RateLimited) and not isinstance(err, Overloaded)


def test_permanent_errors() -> None:
    turns = result(None, subtype="error_max_turns", errors=["Reached maximum number of turns (1)"])
    turns["subtype"] = "error_max_turns"
    assert isinstance(classify(turns), MaxTurnsReached)
    budget = result(None)
    budget["subtype"] = "error_max_budget_usd"
    assert isinstance(classify(budget), BudgetExhausted)
    bad = classify(
        result("API Error: 400 messages.0.content: field required", 400, api_error_type="invalid_request_error")
    )
    assert isinstance(bad, InvalidRequest)


def test_unknown_api_error_is_treated_as_absent() -> None:
    err = classify(result("API Error: 500 Internal server error.", 500, api_error="brand_new_kind"))
    assert type(err) is ClaudeServerError


def test_missing_result_line_is_a_failure() -> None:
    with pytest.raises(ClaudeServerError):
        classify_result(StreamState())
    assert isinstance(classify_exit(StreamState(), 0, "", timed_out=False, timeout=5), ClaudeServerError)
    assert isinstance(classify_exit(StreamState(), -9, "", timed_out=True, timeout=5), ClaudeTimeout)
    root = classify_exit(
        StreamState(), 1, "--dangerously-skip-permissions cannot be used with root/sudo privileges", False, 5
    )
    assert isinstance(root, InvalidRequest) and "IS_SANDBOX" in str(root)


def test_which_retries_are_cut_short() -> None:
    rate = {"subtype": "api_retry", "error_status": 429, "retry_delay_ms": 7000, "error": "rate_limit"}
    cut = retry_to_cut(rate, can_refresh=False)
    assert isinstance(cut, RateLimited) and cut.retry_after == 7.0
    assert (
        retry_to_cut({"subtype": "api_retry", "error_status": 500, "error": "server_error"}, can_refresh=False) is None
    )
    rejected = {"subtype": "api_retry", "error_status": 401, "error": "authentication_failed"}
    assert isinstance(retry_to_cut(rejected, can_refresh=False), AuthRequired)
    # a claude.ai login may refresh its token and succeed on the CLI's own retry
    assert retry_to_cut(rejected, can_refresh=True) is None
