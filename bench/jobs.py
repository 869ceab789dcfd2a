"""Job functions the benchmark workers import: an instant stand-in for Claude, plain and guarded.

``call_fake`` makes one real HTTP request to the fake Anthropic API (so every "Claude call" is
counted there) and raises the typed error the runner would raise.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from app.errors import AuthRequired, UsageLimitReached
from app.fleet.job import claude_job


def noop() -> str:
    return "ok"


guarded_noop = claude_job(noop)


def call_fake(url: str, key: str = "sk-ant-bench") -> str:
    request = urllib.request.Request(
        f"{url}/v1/messages",
        data=json.dumps(
            {"model": "claude-sonnet-5-5", "max_tokens": 8, "messages": [{"role": "user", "content": "say OK"}]}
        ).encode(),
        headers={"content-type": "application/json", "x-api-key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.loads(response.read())["content"][0]["text"])
    except urllib.error.HTTPError as exc:
        if exc.code == 429:
            reset = exc.headers.get("anthropic-ratelimit-unified-reset")
            raise UsageLimitReached(
                "You've hit your 5-hour limit", resets_at=float(reset) if reset else None, limit_type="five_hour"
            ) from None
        if exc.code == 401:
            raise AuthRequired("Invalid API key") from None
        raise


guarded_call_fake = claude_job(call_fake)
