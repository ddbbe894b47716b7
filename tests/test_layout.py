"""The package's layout shows its architecture: sizes, import graph, packaging.

* no module over :data:`MAX_LINES` lines;
* no import cycle between modules of ``bayescale`` (imports inside functions count; those
  under ``if TYPE_CHECKING:`` do not, they never run);
* no private name (``_name``) imported from another subpackage;
* every subpackage is listed in ``pyproject.toml`` (packages are listed, not found, so the
  reference posteriors in ``models/`` ship as ``bayescale.models``).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bayescale"
MAX_LINES = 1000


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for child in node.body for n in ast.walk(child)}
    return skip


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """``(module, imported names)`` for every bayescale import of ``name`` that runs."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base]) if base else ".".join(up)
            if not base.startswith("bayescale"):
                continue
            names = [a.name for a in node.names]
            for n in names:  # `from bayescale.core import dims` imports a module
                if f"{base}.{n}" in modules:
                    out.append((f"{base}.{n}", []))
            out.append((base, [n for n in names if f"{base}.{n}" not in modules]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("bayescale")]
    return [(m, n) for m, n in out if m in modules and m != name]


def test_no_module_is_too_long() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by idea): {long}"


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {
        name: {m for m, _ in _imports(name, path, modules) if m != "bayescale"}
        for name, path in modules.items()
    }
    # The top-level package re-exports the public names; its lazy attribute hook is not a
    # dependency of the modules below it, so edges *into* ``bayescale`` are not followed.
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def test_no_private_name_is_imported_from_another_subpackage() -> None:
    modules = _modules()
    bad = []
    for name, path in modules.items():
        for target, names in _imports(name, path, modules):
            if _subpackage(target) == _subpackage(name):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private or target.rpartition(".")[2].startswith("_"):
                bad.append(f"{name} imports {private or target} from {target}")
    assert not bad, "\n".join(bad)


def test_every_subpackage_is_packaged() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"subpackages missing from pyproject.toml: {sorted(found - listed)}"
    assert config["tool"]["setuptools"]["package-dir"]["bayescale.models"] == "models"


def test_an_old_module_path_names_the_new_one() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"moved to bayescale\.scaling\.fitting"):
        import bayescale.fitting  # noqa: F401


def test_no_absolute_machine_path() -> None:
    """Code, tests, examples, benchmarks and docs find data relative to the repository."""
    roots = ["bayescale", "tests", "examples", "benchmarks", "docs"]
    files = [ROOT / "README.md", ROOT / "ARCHITECTURE.md"]
    for name in roots:
        files += [
            p
            for p in (ROOT / name).rglob("*")
            if p.suffix in {".py", ".md", ".rst"}
            and "_build" not in p.parts
            and "gallery" not in p.parts
        ]
    marks = ("/work/", "/home/", "/Users/")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        if path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if any(m in line for m in marks)
    ]
    assert not found, f"absolute machine paths (use ../shared/data or bench_out/): {found}"
