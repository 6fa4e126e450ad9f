"""The architecture, held by the code (issue 18): AST over every module of ``portal/``, function-level
imports included.

- no import cycle between portal modules;
- ``portal/domain/`` imports no Flask, Werkzeug or Flask extension, and no portal module outside the
  domain and the db layer (so not through another portal module either);
- the db layer (``portal/db/``) imports no other portal module;
- only ``portal/search/`` imports whoosh;
- no Python file in ``portal/`` is over 450 lines;
- and, beyond the issue, every import points down the floors of ``FLOORS`` (the web never imports the
  console, search never imports the web …).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PORTAL = Path(__file__).resolve().parents[1] / "portal"
DB_LAYER = "portal.db"
WEB_FRAMEWORK = ("flask", "werkzeug", "flask_", "wtforms", "jinja2", "markupsafe", "itsdangerous")
MAX_LINES = 450
#: The floors, ground first: a module may import its own floor and those below it.
FLOORS = (("portal.db",), ("portal.domain",), ("portal.clock", "portal.runtime"), ("portal.search", "portal.importer"),
          ("portal.web",), ("portal.staff", "portal.ops"), ("portal",))


def module_name(path: Path) -> str:
    parts = path.relative_to(PORTAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PORTAL.rglob("*.py")) if "_data" not in p.parts}


def imports(name: str) -> tuple[set[str], set[str]]:
    """(portal modules, outside top-level packages) that module ``name`` imports anywhere in it."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inside, outside = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (inside if alias.name.startswith("portal") else outside).add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("portal"):
                outside.add(target)
                continue
            for alias in node.names:            # from . import audit: the module portal.domain.audit
                submodule = f"{target}.{alias.name}"
                inside.add(submodule if submodule in MODULES else target)
    resolved = set()
    for target in inside:
        if target in MODULES:
            resolved.add(target)
        # Importing portal.search.query from outside runs portal.search (its __init__) first; a module
        # importing a sibling depends on its own package only through what it names from it.
        parts = target.split(".")
        resolved.update(parent for n in range(1, len(parts))
                        if (parent := ".".join(parts[:n])) in MODULES and not name.startswith(parent + "."))
    resolved.discard(name)
    return resolved, {o.split(".")[0] if not o.startswith("flask_") else o for o in outside}


GRAPH = {name: imports(name) for name in MODULES}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()][0]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v][0]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def is_domain(name: str) -> bool:
    return name == "portal.domain" or name.startswith("portal.domain.")


def is_db(name: str) -> bool:
    return name == DB_LAYER or name.startswith(DB_LAYER + ".")


def test_the_checker_reads_relative_and_function_level_imports():
    assert "portal.runtime" in GRAPH["portal"][0]        # create_app imports it inside the function
    assert "portal.web.lists" in GRAPH["portal.web.home"][0]     # from .lists import …


def test_no_import_cycle_between_portal_modules():
    assert cycles() == []


def test_the_domain_imports_no_web_framework_and_nothing_above_it():
    problems = []
    for name in filter(is_domain, MODULES):
        for other in reachable(name) | {name}:
            if not (is_domain(other) or is_db(other)):
                problems.append(f"{name} reaches {other}")
            framework = [o for o in GRAPH[other][1] if o.startswith(WEB_FRAMEWORK)]
            if framework:
                problems.append(f"{name} reaches {', '.join(sorted(framework))} (through {other})")
    assert sorted(set(problems)) == []


def test_the_db_layer_imports_no_other_portal_module():
    assert {name: sorted(o for o in GRAPH[name][0] if not is_db(o)) for name in MODULES
            if is_db(name) and any(not is_db(o) for o in GRAPH[name][0])} == {}


def test_only_the_search_package_imports_whoosh():
    assert sorted(name for name, (_, outside) in GRAPH.items()
                  if "whoosh" in outside and not name.startswith("portal.search.") and name != "portal.search") == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_450_lines(name):
    assert len(MODULES[name].read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def floor(name: str) -> int:
    """The floor of the most specific entry of FLOORS that holds ``name``."""
    matches = [(len(top), i) for i, names in enumerate(FLOORS) for top in names
               if name == top or name.startswith(top + ".")]
    return max(matches)[1]


def test_the_floors_are_read_by_the_most_specific_package():
    assert (floor("portal.db.migrations"), floor("portal.web.lists"), floor("portal")) == (0, 4, 6)


def test_every_import_points_down_the_floors():
    assert sorted(f"{name} (floor {floor(name)}) imports {other} (floor {floor(other)})"
                  for name, (inside, _) in GRAPH.items() for other in inside if floor(other) > floor(name)) == []
