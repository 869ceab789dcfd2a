"""What every benchmark shares: an isolated environment, the fake API, fleets, a result record."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class Figure:
    """One benchmark's outcome: ours beside a baseline measured (or, where said, computed) in the same run."""

    name: str
    metric: str
    ours: float
    baseline: float
    unit: str
    goal: str
    baseline_label: str
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return None if self.baseline == 0 else self.ours / self.baseline

    def show(self) -> None:
        ratio = f"{self.ratio:.3g}x" if self.ratio is not None else "n/a"
        print(
            f"{self.name}: {self.metric}: ours {self.ours:.4g} {self.unit}, "
            f"{self.baseline_label} {self.baseline:.4g} {self.unit} (ratio {ratio}); goal: {self.goal}"
        )
        if self.notes:
            print(f"  {self.notes}")

    def save(self) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        data = asdict(self) | {"ratio": self.ratio, "measured_at": time.time()}
        (RESULTS / f"{self.name}.json").write_text(json.dumps(data, indent=2))


def publish(figures: list[Figure]) -> list[Figure]:
    """Print each figure beside its baseline and store it for bench.run_all."""
    for figure in figures:
        figure.show()
        figure.save()
    return figures


@contextlib.contextmanager
def isolated() -> Iterator[Path]:
    """A scratch config dir and no inherited Claude credentials or Redis settings."""
    scratch = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "CLAUDE_", "REDIS_URL", "HEALTH_PORT")):
            del os.environ[name]
    config = scratch / "claude-config"
    config.mkdir()
    os.environ["CLAUDE_CONFIG_DIR"] = str(config)
    sys.path.insert(0, str(ROOT))
    try:
        yield scratch
    finally:
        os.environ.clear()
        os.environ.update(saved)


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit.strip(),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
