"""The import graph of ancre's modules, read from their source with ``ast`` (lazy imports
inside functions and ``TYPE_CHECKING`` blocks included): no module reaches itself through
its imports, and the layers only import downwards (ui -> qa -> index)."""

from __future__ import annotations

import ast
import graphlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def modules(package_dirs: dict[str, Path]) -> dict[str, tuple[Path, bool]]:
    """module name -> (file, is a package), for the .py files of each package's folder."""
    found = {}
    for package, folder in package_dirs.items():
        for path in sorted(folder.glob("*.py")):
            is_package = path.name == "__init__.py"
            name = package if is_package else f"{package}.{path.stem}"
            found[name] = (path, is_package)
    return found


def import_graph(package_dirs: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules it names in any import statement, anywhere in its source. An
    import names the module it imports from, or the submodule it takes from a package."""
    known = modules(package_dirs)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in known.items():
        here = name if is_package else name.rpartition(".")[0]
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in known)
            elif isinstance(node, ast.ImportFrom):
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = node.module or ""
                if node.level:
                    source = f"{base}.{source}" if source else base
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    target = submodule if submodule in known else source
                    if target in known and target != name:
                        edges.add(target)
    return graph


def circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph``, or [] when there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        return err.args[1]
    return []


def ancre_packages() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dirs = config["tool"]["setuptools"]["package-dir"]
    return {package: ROOT / folder for package, folder in dirs.items()}


def test_every_folder_of_python_modules_is_a_listed_package():
    listed = {folder.resolve() for folder in ancre_packages().values()}
    for top in ("index", "qa", "ui"):
        for folder in {path.parent for path in (ROOT / top).rglob("*.py")}:
            assert folder.resolve() in listed, f"{folder} is missing from pyproject.toml"
            assert (folder / "__init__.py").is_file(), f"{folder} has no __init__.py"


def test_no_module_of_ancre_imports_itself_through_others():
    graph = import_graph(ancre_packages())
    assert len(graph) > 80 and "ancre.index.stores.base" in graph
    assert circle(graph) == []


@pytest.mark.parametrize(
    ("layer", "never"),
    [
        ("ancre.index", ("ancre.qa", "ancre.ui")),
        ("ancre.qa", ("ancre.ui",)),
    ],
)
def test_the_layers_only_import_downwards(layer, never):
    graph = import_graph(ancre_packages())
    upward = {
        (module, target)
        for module, targets in graph.items()
        if module == layer or module.startswith(layer + ".")
        for target in targets
        if any(target == up or target.startswith(up + ".") for up in never)
    }
    assert upward == set()


def test_the_store_protocols_import_no_store():
    graph = import_graph(ancre_packages())
    for leaf in ("ancre.index.stores.base", "ancre.index.errors"):
        assert not {t for t in graph[leaf] if ".directory" in t or ".milvus" in t}
    milvus = {t for m, ts in graph.items() if ".stores.milvus" in m for t in ts}
    assert not {t for t in milvus if ".stores.directory" in t}


def test_a_circle_through_a_lazy_import_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import c\n"
    )
    (pkg / "c.py").write_text("def f():\n    import pkg.a\n")
    graph = import_graph({"pkg": pkg, "pkg.sub": pkg / "sub"})
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert set(circle(graph)) == {"pkg.a", "pkg.sub.b", "pkg.c"}
    (pkg / "c.py").write_text("import pkg.sub\n")
    assert circle(import_graph({"pkg": pkg, "pkg.sub": pkg / "sub"})) == []
