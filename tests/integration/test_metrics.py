"""Metrics that add up over every scraped worker, and the alert rules and dashboard in deploy/ checked against them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from app import __version__
from app.fleet.presence import WorkerInfo
from app.metrics import FleetCollector
from app.settings import Settings
from tests.conftest import ROOT
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fleet_harness import free_port, running_fleet, wait_until

pytestmark = pytest.mark.integration

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="needs promtool (Debian's prometheus package; CI has it)")
DEPLOY = ROOT / "deploy"


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float | None:
    found = [v for n, ls, v in samples(text) if n == name and all(ls.get(k) == w for k, w in labels.items())]
    return found[0] if found else None


def test_fleet_series_come_from_one_worker_and_every_worker_has_its_own(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    env = {"ANTHROPIC_BASE_URL": fake_api.url, "ANTHROPIC_API_KEY": "sk-ant-api-test"}
    ports = [free_port(), free_port()]
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        for port in ports:
            fleet.start_worker(HEALTH_PORT=str(port))
        wait_until(lambda: fleet.worker_count() == 2, 30, what="two workers")
        fleet.enqueue(1)
        wait_until(lambda: fleet.finished() == 1, 30, what="the job")

        def scrape_all() -> list[str] | None:
            texts = [httpx.get(f"http://127.0.0.1:{p}/metrics", timeout=5).text for p in ports]
            # both slots claimed, so exactly one worker reports the fleet
            reporters = [value(t, "claude_workers_fleet_reporter") for t in texts]
            return texts if sorted(reporters) == [0.0, 1.0] else None

        texts = wait_until(scrape_all, 15, interval=0.2, what="one fleet reporter among two workers")

    # summed over every target, as a dashboard would: each job counted once
    assert sum(value(t, "claude_workers_jobs", state="finished") or 0 for t in texts) == 1
    assert sum(value(t, "claude_workers_attempts_total", outcome="ok") or 0 for t in texts) == 1
    [reporter] = [t for t in texts if value(t, "claude_workers_fleet_reporter") == 1]
    [other] = [t for t in texts if t is not reporter]
    assert value(other, "claude_workers_runnable_queue_depth") is None
    # the histogram: one run, in some bucket, and in +Inf
    assert value(reporter, "claude_workers_job_duration_seconds_bucket", le="+Inf") == 1
    assert value(reporter, "claude_workers_job_duration_seconds_count") == 1
    assert value(reporter, "claude_workers_job_duration_seconds_bucket", le="60.0") == 1
    # per worker, on every worker: labelled, and the one run counted on the worker that ran it
    names = set()
    for text in texts:
        [(_, labels, _)] = [s for s in samples(text) if s[0] == "claude_workers_worker_busy"]
        names.add(labels["worker"])
        build = [ls for n, ls, _ in samples(text) if n == "claude_workers_build_info"]
        assert build == [{"version": __version__, "claude_code": "2.1.332", "python": build[0]["python"]}]
    assert len(names) == 2
    assert sum(value(t, "claude_workers_worker_attempts_total", outcome="ok") or 0 for t in texts) == 1
    if PROMTOOL:
        for text in texts:
            linted = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
            assert linted.returncode == 0, linted.stdout + linted.stderr


def exported_names(redis_url: str) -> set[str]:
    """Every series name a fleet reporter exports (in process: the same collector the workers use)."""
    registry = CollectorRegistry()
    settings = Settings(_env_file=None, redis_url=redis_url)  # type: ignore[call-arg]
    registry.register(FleetCollector(settings, Redis.from_url(redis_url), WorkerInfo(name="w", slot=0)))
    text = generate_latest(registry).decode()
    return {name for name, _, _ in samples(text)} | {m.group(1) for m in re.finditer(r"^# TYPE (\S+)", text, re.M)}


def used_names(expression: str) -> set[str]:
    return set(re.findall(r"\bclaude_workers_[a-z_]+\b", expression))


@needs_promtool
def test_alert_rules_pass_promtool_and_their_own_unit_tests(redis_url: str) -> None:
    rules = DEPLOY / "prometheus"
    for args in (
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
        ["check", "config", "prometheus.yml"],
    ):
        checked = subprocess.run([str(PROMTOOL), *args], cwd=rules, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    unknown = used_names((rules / "alerts.yml").read_text()) - exported_names(redis_url)
    assert not unknown, f"alert rules use series nothing exports: {unknown}"


@needs_promtool
def test_the_grafana_dashboard_queries_parse_and_use_exported_series(redis_url: str, tmp_path: Path) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "claude-workers.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(expressions) >= 10
    # promtool parses PromQL only inside rule files: each query becomes a recording rule
    as_rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e.replace("$__rate_interval", "5m")}
                    for i, e in enumerate(expressions)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(as_rules))  # JSON is YAML
    checked = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    unknown = set().union(*(used_names(e) for e in expressions)) - exported_names(redis_url)
    assert not unknown, f"dashboard panels query series nothing exports: {unknown}"
