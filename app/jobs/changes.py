"""What a job changed in its workspace: the files it created, changed and deleted, and a unified diff.

Before a job's first attempt the workspace is photographed (a hash per file, and the text of small
text files) into the job's state dir, so a job resumed on another worker still compares against
where it *started*, not where its last attempt began. A workspace cloned from a git repository is
compared by git itself, against the ref it started from (``repo.patch``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: text kept in the photograph per file: a larger file is compared by hash, and its diff is not shown
MAX_TEXT_BYTES = 256 * 1024
#: files looked at, at most (a workspace holding more is summarised, not walked forever)
MAX_FILES = 20_000
SKIPPED_DIRS = {".git"}


@dataclass
class Photo:
    hashes: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"hashes": self.hashes, "texts": self.texts})

    @classmethod
    def from_json(cls, text: str) -> Photo:
        data = json.loads(text)
        return cls(dict(data["hashes"]), dict(data["texts"]))


def _text(data: bytes) -> str | None:
    if len(data) > MAX_TEXT_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def photograph(root: Path) -> Photo:
    """Every regular file under ``root`` (symlinks are not followed: they could point anywhere)."""
    photo = Photo()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            if len(photo.hashes) >= MAX_FILES:
                return photo
            rel = path.relative_to(root).as_posix()
            try:
                data = path.read_bytes()
            except OSError:
                continue
            photo.hashes[rel] = hashlib.sha256(data).hexdigest()
            text = _text(data)
            if text is not None:
                photo.texts[rel] = text
    return photo


def compare(before: Photo, after: Photo, max_bytes: int) -> dict[str, Any]:
    """The result's ``files`` and ``diff`` fields: what changed from ``before`` to ``after``."""
    created = sorted(set(after.hashes) - set(before.hashes))
    deleted = sorted(set(before.hashes) - set(after.hashes))
    changed = sorted(p for p in set(before.hashes) & set(after.hashes) if before.hashes[p] != after.hashes[p])
    pieces: list[str] = []
    not_shown: list[str] = []
    for path in sorted([*created, *changed, *deleted]):
        old, new = before.texts.get(path), after.texts.get(path)
        if (path in before.hashes and old is None) or (path in after.hashes and new is None):
            not_shown.append(path)  # binary or large: listed, not diffed
            continue
        pieces.append(
            "".join(
                difflib.unified_diff(
                    (old or "").splitlines(keepends=True),
                    (new or "").splitlines(keepends=True),
                    fromfile="/dev/null" if path in created else f"a/{path}",
                    tofile="/dev/null" if path in deleted else f"b/{path}",
                )
            )
        )
    diff, truncated = cap("".join(_newline_terminated(p) for p in pieces), max_bytes)
    return {
        "files": {"created": created, "changed": changed, "deleted": deleted, "not_diffed": not_shown},
        "diff": diff,
        "diff_truncated": truncated,
    }


def _newline_terminated(piece: str) -> str:
    return piece if not piece or piece.endswith("\n") else piece + "\n\\ No newline at end of file\n"


def cap(diff: str, max_bytes: int) -> tuple[str, bool]:
    """``diff`` cut to ``max_bytes`` (on a line boundary), and whether it was cut."""
    data = diff.encode()
    if len(data) <= max_bytes:
        return diff, False
    cut = data[:max_bytes].rsplit(b"\n", 1)[0].decode(errors="ignore")
    note = f"\n... diff cut at {max_bytes} bytes (CLAUDE_WORKERS_DIFF_MAX_BYTES); the file lists are complete\n"
    return cut + note, True
