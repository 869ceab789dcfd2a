"""Size of the claude-workers image beside the Claude CLI binary it carries (needs a Docker engine).

Run it after `docker build -t claude-workers:local .` (`make docker-test` builds it); `make bench` does not.
"""

from __future__ import annotations

import json
import subprocess
import time

from bench.common import RESULTS

IMAGE = "claude-workers:local"


def docker_bytes(*args: str) -> int:
    return int(subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip())


def main() -> None:
    image = docker_bytes("image", "inspect", "-f", "{{.Size}}", IMAGE)
    cli = docker_bytes("run", "--rm", "--entrypoint", "stat", IMAGE, "-c", "%s", "/usr/local/bin/claude")
    row = {
        "name": "image_size",
        "metric": "size of the claude-workers image",
        "ours": image / 1e6,
        "baseline": cli / 1e6,
        "unit": "MB",
        "goal": "little beyond the CLI binary",
        "baseline_label": "the Claude CLI binary alone",
        "notes": f"everything but the CLI: {(image - cli) / 1e6:.0f} MB (Debian slim, Python, bubblewrap, the wheels)",
        "extra": {},
        "ratio": image / cli,
        "measured_at": time.time(),
    }
    (RESULTS / "image_size.json").write_text(json.dumps(row, indent=2) + "\n")
    print(f"image {image / 1e6:.0f} MB, CLI {cli / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
