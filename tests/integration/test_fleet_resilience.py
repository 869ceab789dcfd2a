"""No job lost: killed workers, shutdowns and a Redis restart, with real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import FAST_RECOVERY, RedisServer, running_fleet, wait_until

pytestmark = pytest.mark.integration

API_KEY = {"ANTHROPIC_API_KEY": "sk-ant-api-test"}


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the horse, the CLI, their children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def in_flight(fake: FakeAnthropicAPI, n: int = 1) -> bool:
    return len(fake.message_requests()) >= n


@pytest.mark.story
def test_sigkilled_worker_and_children_job_comes_back_first_and_runs(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.always(Reply.success(delay=1.5))
    fake_api.then(Reply.success(delay=20))  # the first run is mid-flight when the worker dies
    env = {"ANTHROPIC_BASE_URL": fake_api.url, **API_KEY, **FAST_RECOVERY}
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        (victim,) = fleet.start_workers(1)
        (job_id,) = fleet.enqueue(1)
        wait_until(lambda: in_flight(fake_api), 30, what="the job to reach Claude")
        later = fleet.enqueue(10)  # queued behind it while it runs
        tree = descendants(victim.pid)
        assert tree, "the worker had no job process"
        for pid in [victim.pid, *tree]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        victim.wait()

        fleet.start_workers(1)
        wait_until(lambda: fleet.finished() == 11, 90, interval=0.5, what="the killed job to come back and finish")
        assert fleet.job(job_id).ended_at is not None
        attempts = fleet.job(job_id).meta["attempts"]
        assert [a["outcome"] for a in attempts] == ["interrupted", "ok"]  # the duplicate attempt is visible
        # recovered at the front of the queue, not behind what was queued while it ran
        recovered = attempts[1]["started_at"]
        after = [i for i in later if fleet.job(i).meta["attempts"][0]["started_at"] > recovered]
        # the new worker runs a few of them while the killed one waits to be found; once found, it is next
        assert len(after) >= 3, f"only {len(after)} of 10 later jobs ran after the recovered one"
        assert recovered - killed_at < 30
        assert not any(alive(pid) for pid in tree), "a job process or CLI outlived its worker"


def test_killing_only_the_worker_takes_its_job_process_down(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.then(Reply.success(delay=20))
    with running_fleet(redis_url, tmp_path, ANTHROPIC_BASE_URL=fake_api.url, **API_KEY) as fleet:
        (victim,) = fleet.start_workers(1)
        fleet.enqueue(1)
        wait_until(lambda: in_flight(fake_api), 30, what="the job to reach Claude")
        tree = descendants(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)  # an OOM kill of the main process only
        victim.wait()
        wait_until(lambda: not any(alive(pid) for pid in tree), 10, what="the orphaned job process and CLI to die")


def test_sigterm_finishes_the_current_job(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.then(Reply.success(delay=4))
    with running_fleet(redis_url, tmp_path, ANTHROPIC_BASE_URL=fake_api.url, **API_KEY) as fleet:
        (worker,) = fleet.start_workers(1)
        (job_id,) = fleet.enqueue(1)
        wait_until(lambda: in_flight(fake_api), 30, what="the job to reach Claude")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert fleet.job(job_id).get_status().value == "finished"


@pytest.mark.story
def test_second_sigterm_requeues_the_job_at_the_front(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.then(Reply.success(delay=30))
    with running_fleet(redis_url, tmp_path, ANTHROPIC_BASE_URL=fake_api.url, **API_KEY) as fleet:
        (worker,) = fleet.start_workers(1)
        first, second = fleet.enqueue(2)
        wait_until(lambda: in_flight(fake_api), 30, what="the job to reach Claude")
        worker.send_signal(signal.SIGTERM)
        time.sleep(1.5)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        job = fleet.job(first)
        assert job.get_status().value == "queued"
        assert job.meta["attempts"][-1]["outcome"] == "interrupted"
        queue = fleet.conn.lrange(f"rq:queue:{fleet.prefix}", 0, -1)
        assert [q.decode() for q in queue] == [first, second]

        fleet.start_workers(1)
        wait_until(lambda: fleet.finished() == 2, 60, what="both jobs after the restart")


def test_shutdown_grace_running_out_requeues_the_job(
    fake_api: FakeAnthropicAPI, redis_url: str, tmp_path: Path, claude_bin: str
) -> None:
    fake_api.then(Reply.success(delay=30))
    env = {"ANTHROPIC_BASE_URL": fake_api.url, "CLAUDE_SHUTDOWN_GRACE": "2", **API_KEY}
    with running_fleet(redis_url, tmp_path, **env) as fleet:
        (worker,) = fleet.start_workers(1)
        (job_id,) = fleet.enqueue(1)
        wait_until(lambda: in_flight(fake_api), 30, what="the job to reach Claude")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
        assert fleet.job(job_id).get_status().value == "queued"


@pytest.mark.story
@pytest.mark.timeout(240)  # above its own longest wait, so that wait's message is what shows
def test_redis_restart_mid_run_loses_nothing(fake_api: FakeAnthropicAPI, tmp_path: Path, claude_bin: str) -> None:
    fake_api.always(Reply.success(delay=0.3))
    server = RedisServer(tmp_path / "redis").start()
    try:
        with running_fleet(server.url, tmp_path, ANTHROPIC_BASE_URL=fake_api.url, **API_KEY, **FAST_RECOVERY) as fleet:
            workers = fleet.start_workers(2)
            ids = fleet.enqueue(24)
            wait_until(lambda: fleet.finished() >= 6, 60, what="a few jobs before the restart")
            server.stop()
            time.sleep(3)
            server.start()
            wait_until(lambda: fleet.finished() == 24, 150, interval=0.5, what="all jobs after the restart")
            assert all(w.poll() is None for w in workers), "a worker died with Redis"
            assert fleet.failed() == 0
            statuses = {fleet.job(i).get_status().value for i in ids}
            assert statuses == {"finished"}
            twice = sum(1 for i in ids if fleet.job(i).meta.get("duplicate_runs"))
            print(f"redis restart: 24 finished, 0 lost, {twice} run twice")
    finally:
        server.stop(signal.SIGKILL)
