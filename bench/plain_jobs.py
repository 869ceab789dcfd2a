"""The baseline's job: the same one HTTP call to the fake API, with plain RQ and no claude-workers.

It imports nothing of ours, so a plain RQ job process starts as fast as RQ allows.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request


class UsageLimit(Exception):
    """The fake API said the usage limit is reached."""


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
            raise UsageLimit(exc.headers.get("anthropic-ratelimit-unified-reset")) from None
        raise
