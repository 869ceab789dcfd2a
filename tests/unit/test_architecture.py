"""The layout holds: no import cycle between modules, Redis key names in one place.

(The layer order itself is `lint-imports`' contract in pyproject.toml, run by `make lint`.)
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp

APP = Path(__file__).resolve().parents[2] / "app"


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("app")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(" -> ".join((module, *back)))
    assert not cycles, cycles


def test_redis_key_names_are_built_in_keys_py() -> None:
    pattern = re.compile(r"""["']rq:|prefix\}:|:(?:stats|batch|idem|fleet|probe)["']""")
    offenders = [
        f"{path.relative_to(APP)}:{n}"
        for path in APP.rglob("*.py")
        if path.name != "keys.py"
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
