"""The sandbox a Claude CLI run lives in: bubblewrap, with only its workspace to write.

Inside: the system's programs (read-only), the CLI binary, the job's workspace and its own
config dir (read-write), a private /tmp, /proc and /dev, and a network with nothing on it but
the relay to the credential proxy. Outside, and out of reach: the fleet's config dir and
credential, other jobs' workspaces, the worker's environment and processes, Redis.

``CLAUDE_SANDBOX``: ``auto`` (the default) uses bubblewrap when it works here and otherwise
runs the CLI unsandboxed with a warning at worker start; ``bwrap`` insists (a job fails with a
clear error when it cannot); ``off`` never sandboxes (a trusted, single-user machine).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: the port the CLI talks to inside the sandbox's own network (nothing else listens there)
RELAY_PORT = 8765
#: where the proxy socket and the relay appear inside
RUN_DIR = "/run/claude-workers"
RELAY_SOURCE = Path(__file__).with_name("sandbox_relay.py")
#: /etc files a program needs; the rest of /etc stays outside
ETC_FILES = (
    "passwd",
    "group",
    "hosts",
    "nsswitch.conf",
    "localtime",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
)
#: the uid and gid a run has inside (never 0: the CLI refuses bypassPermissions to root)
SANDBOX_UID = 10001


#: what the sandbox can isolate here: "full" (its own PIDs and /proc) or "shared-proc" (a container
#: whose masked /proc forbids a new one: the sandbox sees the container's processes, which are
#: undumpable and so unreadable, see ``app.proc.make_undumpable``)
Isolation = str
#: the namespaces and /proc of each isolation, best first; probe() picks the first that works here
ISOLATIONS: dict[Isolation, list[str]] = {
    "full": ["--unshare-all", "--proc", "/proc"],  # user, pid, net, ipc, uts, cgroup
    "shared-proc": [
        *("--unshare-user", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"),
        *("--ro-bind", "/proc", "/proc"),
    ],
}


@functools.lru_cache(maxsize=1)
def probe() -> tuple[Isolation | None, str | None]:
    """(isolation, None) when bubblewrap can make a sandbox here, else (None, why not)."""
    binary = shutil.which("bwrap")
    if binary is None:
        return None, "bubblewrap is not installed (apt-get install bubblewrap)"
    base = [binary, "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev"]
    reason = ""
    for isolation, extra in ISOLATIONS.items():
        attempt = subprocess.run([*base, *extra, "true"], capture_output=True, text=True, timeout=10)
        if attempt.returncode == 0:
            return isolation, None
        reason = reason or (attempt.stderr.strip().splitlines() or ["no reason given"])[-1]
    return None, f"bubblewrap cannot create namespaces here ({reason})"


def bwrap_problem() -> str | None:
    """None when runs can be sandboxed here, else why not (in words a user can act on)."""
    return probe()[1]


def wrap(
    argv: list[str],
    *,
    workspace: Path,
    config_dir: Path,
    socket_path: Path,
    env: dict[str, str],
) -> list[str]:
    """``argv`` run inside the sandbox, through the relay. ``env`` becomes its whole environment."""
    binary = Path(argv[0]).resolve()
    python = Path(sys.executable).resolve()
    home = str(config_dir.parent / "home")
    Path(home).mkdir(exist_ok=True)
    isolation = probe()[0] or "full"
    args = [
        shutil.which("bwrap") or "bwrap",
        *ISOLATIONS[isolation],  # a network with nothing but loopback, and a /proc
        "--die-with-parent",
        "--new-session",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
        "--dir",
        RUN_DIR,
    ]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = Path("/") / link
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            args += ["--ro-bind", str(target), f"/{link}"]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    # the Python that runs the relay (a pyenv or venv install may live outside /usr)
    prefix = Path(sys.base_prefix).resolve()
    if not str(prefix).startswith("/usr/"):
        args += ["--ro-bind", str(prefix), str(prefix)]
    if not str(binary).startswith("/usr/"):
        args += ["--ro-bind", str(binary), str(binary)]
    args += [
        "--ro-bind",
        str(RELAY_SOURCE),
        f"{RUN_DIR}/relay.py",
        "--bind",
        str(socket_path),
        f"{RUN_DIR}/proxy.sock",
        "--bind",
        home,
        home,
        "--bind",
        str(config_dir),
        str(config_dir),
        "--bind",
        str(workspace),
        str(workspace),
        "--chdir",
        str(workspace),
    ]
    for key, value in sorted({**env, "HOME": home}.items()):
        args += ["--setenv", key, value]
    relay = [str(python), "-I", "-S", f"{RUN_DIR}/relay.py", str(RELAY_PORT), f"{RUN_DIR}/proxy.sock", "--"]
    return [*args, *relay, str(binary), *argv[1:]]


def relay_url() -> str:
    return f"http://127.0.0.1:{RELAY_PORT}"
