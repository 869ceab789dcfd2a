"""Run every benchmark and write docs/benchmarks.md.   python -m bench.run_all [--quick] [--only=a,b]

Each benchmark runs in its own process and prints its figure beside its baseline; this collects
bench/results/*.json into the document. --quick takes the CLI-defaults baseline of
error_surfacing from the facts file instead of measuring it (which takes about 7 minutes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.common import RESULTS, ROOT, machine

SCRIPTS = [
    "bench.queue_overhead",
    "bench.outage_calls",
    "bench.resume_lateness",
    "bench.login_resume",
    "bench.error_surfacing",
    "bench.health_latency",
    "bench.memory",
    "bench.sandbox_cost",
    "bench.cli_start",
    "bench.redis_load",
    "bench.agent_resume",
    "bench.list_pages",
]


def main() -> None:
    quick = "--quick" in sys.argv
    only = [a.removeprefix("--only=") for a in sys.argv if a.startswith("--only=")]
    for script in SCRIPTS:
        if only and script.rsplit(".", 1)[1] not in only[0].split(","):
            continue
        print(f"== {script}", flush=True)
        args = [sys.executable, "-m", script] + (["--quick"] if quick and script == "bench.error_surfacing" else [])
        subprocess.run(args, cwd=ROOT, check=True)
    write_doc(quick)


def write_doc(quick: bool) -> None:
    rows = [r for r in (json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))) if "name" in r]
    info = machine()
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m bench.run_all`), which runs every script in `bench/` and",
        "rewrote this file. Each figure stands beside a baseline measured in the same run (or, where the",
        "baseline says *computed*, derived from that run's measurements and the baseline's documented",
        "policy), because these machines are noisy: compare the ratio, not the absolute numbers.",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}; Linux {info['kernel']}; "
        f"commit {info['commit']}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + ("; run with --quick (error surfacing against the facts file's CLI figures)" if quick else "")
        + ".",
        "",
        "Each row says when it was measured: a run with --only rewrites this file with the rows it did",
        "not run as they were.",
        "",
        "| benchmark | measures | ours | baseline | ratio | goal | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row['ratio']:.3g}x" if row.get("ratio") is not None else "-"
        lines.append(
            f"| `{row['name']}` | {row['metric']} | {row['ours']:.4g} {row['unit']} | "
            f"{row['baseline']:.4g} {row['unit']} ({row['baseline_label']}) | {ratio} | {row['goal']} | "
            + (time.strftime("%Y-%m-%d", time.gmtime(row["measured_at"])) if row.get("measured_at") else "-")
            + " |"
        )
    lines += ["", "## Notes", ""]
    for row in rows:
        if row.get("notes"):
            lines.append(f"* `{row['name']}`: {row['notes']}")
    lines += ["", "## Method", ""]
    for script in SCRIPTS:
        module = __import__(script, fromlist=["__doc__"])
        doc = " ".join((module.__doc__ or "").split())
        lines.append(f"* `{script.replace('.', '/')}.py`: {doc}")
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines) + "\n")
    print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
