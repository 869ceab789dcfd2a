"""Process hygiene: children that die with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (a no-op elsewhere).

    Workers, their job processes and the Claude CLI each run in their own process group,
    so a killed parent would otherwise leave them running: a job finished by an orphan
    *and* re-run by recovery is a duplicate nobody asked for.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
