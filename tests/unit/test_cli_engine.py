"""The CLI engine's process handling, with a tiny stand-in for the ``claude`` executable."""

import json
import os
import signal
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from app.claude.cli_engine import build_argv
from app.claude.request import RunRequest
from app.claude.runner import run_claude
from app.errors import ClaudeServerError, ClaudeTimeout
from app.settings import Settings

STAND_IN = """#!{python}
import json, os, subprocess, sys, time
here = os.path.dirname(os.path.abspath(__file__))
mode = open(os.path.join(here, "mode")).read().strip()
record = {{"argv": sys.argv[1:], "stdin": sys.stdin.read(), "env": dict(os.environ),
          "pgid": os.getpgid(0), "pid": os.getpid()}}
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    record["grandchild"] = child.pid
json.dump(record, open(os.path.join(here, "record.json"), "w"))
if mode == "hang":
    time.sleep(300)
elif mode == "ok":
    print(json.dumps({{"type": "system", "subtype": "init", "model": "stand-in"}}), flush=True)
    print(json.dumps({{"type": "result", "subtype": "success", "is_error": False, "result": "done",
                      "session_id": "s", "total_cost_usd": 0.5, "num_turns": 1}}), flush=True)
elif mode == "silent":
    print("not json at all", flush=True)
    sys.exit(1)
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Callable[[str], Path]:
    directory = tmp_path / "bin"
    directory.mkdir()
    script = directory / "claude"
    script.write_text(STAND_IN.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    def with_mode(mode: str) -> Path:
        (directory / "mode").write_text(mode)
        return directory

    return with_mode


def settings_for(make_settings: Callable[..., Settings], directory: Path) -> Settings:
    # the stand-in keeps its state in files beside it, which a sandbox would hide: run it bare
    return make_settings(
        claude_bin=str(directory / "claude"), anthropic_api_key=SecretStr("sk-test"), claude_sandbox="off"
    )


def record(directory: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((directory / "record.json").read_text())


NASTY = "--help; rm -rf / $(touch pwned) `id` 'single' \"double\" \\ \n* ? > out.txt | cat & -p"


def test_prompt_reaches_the_cli_verbatim_on_stdin(
    stand_in: Callable[[str], Path], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    directory = stand_in("ok")
    result = run_claude(RunRequest(prompt=NASTY, cwd=tmp_path), settings_for(make_settings, directory))
    assert result.text == "done" and result.cost_usd == 0.5
    seen = record(directory)
    assert seen["stdin"] == NASTY  # never in argv: it cannot be read as a flag, and its size is ours
    assert NASTY not in seen["argv"] and seen["argv"][-1] == "-p"
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out.txt").exists()
    assert seen["pgid"] == seen["pid"]  # its own process group


def test_timeout_kills_the_whole_process_group(
    stand_in: Callable[[str], Path], make_settings: Callable[..., Settings]
) -> None:
    directory = stand_in("hang")
    started = time.monotonic()
    with pytest.raises(ClaudeTimeout):
        run_claude(RunRequest(prompt="x", timeout=1.5), settings_for(make_settings, directory))
    assert time.monotonic() - started < 10
    grandchild = record(directory)["grandchild"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        # a zombie still answers kill(0); it is dead once its state is Z
        status = (
            Path(f"/proc/{grandchild}/stat").read_text().split()[2] if Path(f"/proc/{grandchild}").exists() else "X"
        )
        if status in ("Z", "X"):
            break
        time.sleep(0.1)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the CLI's child survived the timeout")


def test_no_result_line_is_a_failure(stand_in: Callable[[str], Path], make_settings: Callable[..., Settings]) -> None:
    directory = stand_in("silent")
    with pytest.raises(ClaudeServerError, match="without a result"):
        run_claude(RunRequest(prompt="x"), settings_for(make_settings, directory))


def test_scrubbed_environment_reaches_the_process(
    stand_in: Callable[[str], Path], make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = stand_in("ok")
    leaks = {
        "ANTHROPIC_CUSTOM_HEADERS": "x-leak: 1",
        "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": "3",
        "CLAUDE_CODE_MAX_RETRIES": "10",
        "SOME_APP_SECRET": "leaked",
    }
    for name, value in leaks.items():
        monkeypatch.setenv(name, value)
    run_claude(RunRequest(prompt="x"), settings_for(make_settings, directory))
    env = record(directory)["env"]
    # the CLI holds the job's proxy token, never the real key; its base URL is the proxy
    assert env["ANTHROPIC_API_KEY"].startswith("cwjob-") and "sk-test" not in json.dumps(env)
    assert env["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert not {"ANTHROPIC_CUSTOM_HEADERS", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", "SOME_APP_SECRET"} & set(env)


def test_argv_carries_every_job_option() -> None:
    request = RunRequest(
        prompt="p",
        model="sonnet",
        max_turns=3,
        max_budget_usd=0.25,
        allowed_tools=("Read", "Bash(git:*)"),
        disallowed_tools=("Write",),
        permission_mode="plan",
        append_system_prompt="be brief",
        system_prompt="--debug-file=/tmp/x",
        resume_session_id="3f0e9b1c-2a4d-4e5f-8a9b-0c1d2e3f4a5b",
        json_schema={"type": "object"},
    )
    argv = build_argv("claude", request)
    assert argv[0] == "claude" and argv[-1] == "-p" and "p" not in argv
    # every value is one --name=value element: none can become a flag of its own
    assert all(a.startswith("--") for a in argv[1:-1])
    pairs = dict(a[2:].split("=", 1) for a in argv[1:-1] if "=" in a)
    assert pairs["model"] == "sonnet" and pairs["max-turns"] == "3" and float(pairs["max-budget-usd"]) == 0.25
    assert pairs["allowedTools"] == "Read,Bash(git:*)" and pairs["disallowedTools"] == "Write"
    assert pairs["permission-mode"] == "plan" and pairs["resume"] == "3f0e9b1c-2a4d-4e5f-8a9b-0c1d2e3f4a5b"
    assert pairs["system-prompt"] == "--debug-file=/tmp/x"
    assert json.loads(pairs["json-schema"]) == {"type": "object"}
    assert pairs["output-format"] == "stream-json" and "--verbose" in argv


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("resume_session_id", '--settings={"apiKeyHelper":"id"}'),
        ("resume_session_id", "abc"),
        ("model", "--debug-file=/tmp/x"),
        ("model", "-p"),
        ("model", "sonnet\n--settings=x"),
        ("permission_mode", "--dangerously-skip-permissions"),
        ("allowed_tools", ("--settings=x",)),
        ("disallowed_tools", ("Read\x00",)),
        ("prompt", "hi\x00there"),
        ("system_prompt", "be brief\x00--debug-file=/tmp/x"),
        ("prompt", "lone \ud800 surrogate"),
    ],
)
def test_a_value_of_the_wrong_kind_never_reaches_the_cli(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        RunRequest(**{"prompt": "p", field: value})  # type: ignore[arg-type]
