"""The layers of the package, checked from its source: no import runs back up, no two packages import
each other. Every import counts, also those inside functions and under TYPE_CHECKING.

    ground     errors, progress, atomic, assets, registry, _version, _stage, safepaths, schema, locking,
               guards (the modules beside cli.py)
    1 media    decoding, encoding, images, threads
    2 face     detectors, landmarks, alignment, tracking, identity (FaceReader / Face)
    3 faceset, models
    4 provenance
    5 engine   the frame engine: swap, blend and mark one frame or a batch
    6 stages   extract, train, convert, evaluate
    7 front    swap, cli, live, web, batch
    8 api      the package's own __init__ (the public API; it loads the stages only when called)

A package may import its own modules, the ground and the packages of lower numbers only. And no
module is over 400 lines, no function over 80 (ruff's C901 / PLR0915 in pyproject.toml check their
complexity and statements).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "facesmith"
RANKS = {"media": 1, "face": 2, "faceset": 3, "models": 3, "provenance": 4, "engine": 5,
         "extract": 6, "train": 6, "convert": 6, "evaluate": 6,
         "swap": 7, "cli": 7, "live": 7, "web": 7, "batch": 7, "__init__": 8}
GROUND = 0


def unit_of(module: str) -> str:
    """facesmith.face.align -> face; facesmith.errors -> errors; facesmith -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def rank_of(unit: str) -> int:
    if unit in RANKS:
        return RANKS[unit]
    if (PACKAGE / f"{unit}.py").is_file():
        return GROUND
    raise AssertionError(f"facesmith.{unit} has no layer: add it to RANKS in tests/test_layers.py "
                         "(and to the README's Development section)")


def imports_of(path: Path) -> set[str]:
    """The facesmith modules `path` imports, as absolute names (`from .. import x` gives facesmith.x)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "facesmith"}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module.split(".")[0] != "facesmith":
                continue
            found |= {f"{module}.{a.name}" for a in node.names} if module == "facesmith" else {module}
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        unit = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for module in imports_of(path):
            target = unit_of(module)
            if target != unit:
                graph[unit].add(target)
    return graph


def test_the_graph_is_read() -> None:
    # the parse sees what is there: the stages use the face library, front ends use the stages
    graph = package_graph()
    assert "face" in graph["extract"] and "media" in graph["face"] and "convert" in graph["swap"]


def test_no_import_runs_back_up_the_layers() -> None:
    upward = [f"{unit} (layer {rank_of(unit)}) imports {target} (layer {rank_of(target)})"
              for unit, targets in package_graph().items() for target in sorted(targets)
              if rank_of(target) >= rank_of(unit) and not rank_of(unit) == rank_of(target) == GROUND]
    assert not upward, "\n".join(upward)


def test_every_import_names_a_module_that_is_there() -> None:
    """A module moved without its importers updated (also in a function body that no test runs)."""
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for module in imports_of(path):
            rel = PACKAGE.joinpath(*module.split(".")[1:])
            if not (rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file()):
                missing.append(f"{path.relative_to(PACKAGE)}: {module}")
    assert not missing, "\n".join(missing)


def test_no_two_packages_import_each_other() -> None:
    graph = package_graph()
    mutual = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, ())})
    assert not mutual, mutual


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def test_modules_and_functions_are_of_ordinary_size() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(PACKAGE).as_posix()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{rel}:{node.name}: {lines} lines")
    assert not too_long, "\n".join(too_long)
