"""Process hygiene: children that die with their parent, and an init when we are PID 1."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (a no-op elsewhere).

    Workers, their job processes and the Claude CLI each run in their own process group,
    so a killed parent would otherwise leave them running: a job finished by an orphan
    *and* re-run by recovery is a duplicate nobody asked for.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)


def make_undumpable() -> None:
    """Keep processes of the same user out of this one: no /proc/PID/environ, mem, fd, root or cwd.

    A job's agent runs as the same user as its worker in a container. Undumpable, the worker
    (and the job process it forks, which holds the credential proxy) cannot be read through
    /proc by anything the agent runs. A new program started with exec is dumpable again.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0)


#: what the stand-in init passes on to the program it runs
_FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def init_if_pid1() -> None:
    """As PID 1 (a container without an init), split in two: a tiny init and the program.

    PID 1 inherits every orphan of its PID namespace (the Claude CLI starts children of its
    own), and only an init reaps them. So the parent stays behind as the init: it forwards
    signals to the program, reaps whatever is reparented to it, and exits with the program's
    status. The child returns from this call and runs the program. A no-op when not PID 1.
    """
    if os.getpid() != 1:
        return
    program = os.fork()
    if program == 0:
        return
    for sig in _FORWARDED_SIGNALS:
        signal.signal(sig, lambda signum, _frame: _forward(program, signum))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == program:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def _forward(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
