"""``python -m app.probe URL``: exit 0 when URL answers 2xx, else 1 with one line saying why.

The image's healthchecks use it (no curl in the image); it imports nothing but the stdlib.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def probe(url: str, timeout: float = 4.0) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return 200 <= answer.status < 300, f"{url}: {answer.status}"
    except urllib.error.HTTPError as answer:
        return False, f"{url}: {answer.code} {answer.read(500).decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: no answer ({exc})"


if __name__ == "__main__":
    ok, line = probe(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/live")
    sys.stdout.write(line + "\n")
    sys.exit(0 if ok else 1)
