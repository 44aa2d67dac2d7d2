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


QA_LAYERS = (
    ("ancre.qa",),
    ("ancre.qa.api",),
    ("ancre.qa.answer",),
    ("ancre.qa.compose",),
    ("ancre.qa.retrieval", "ancre.qa.verify"),
    ("ancre.qa.reading", "ancre.qa.generation"),
    (
        "ancre.qa.records",
        "ancre.qa.settings",
        "ancre.qa.learned",
        "ancre.qa.errors",
        "ancre.qa.templates",
        "ancre.qa.weights",
    ),
)
"""qa/'s stages, top to bottom; the package itself and its instruments (``ancre.qa.measure``)
stand above them all."""

ACROSS_A_LAYER = {("ancre.qa.generation.prompting", "ancre.qa.reading.sentences")}
"""The one import between modules of one layer in different folders: the answer prompt is
built from the chosen sentences (``Candidate``)."""

RETRIEVAL_READS = {
    ("ancre.qa.retrieval.followup", "ancre.qa.reading.lexicon"),
    ("ancre.qa.retrieval.rerank", "ancre.qa.reading.sentences"),
    ("ancre.qa.retrieval.rerank", "ancre.qa.reading.qtype"),
    ("ancre.qa.retrieval.rerank", "ancre.qa.reading.likelihood"),
    ("ancre.qa.retrieval.rerank", "ancre.qa.reading.evidence"),
}
"""What retrieval must read: the names that make a question searchable on its own; the
reranker's sentences, answer kinds and likelihood; and, for ``reread``, the evidence it
weighs before and after the rereading (``evidence.weigh_evidence``, ``with_likelihood``)."""


def stage(module: str, layers=QA_LAYERS) -> tuple[int, str] | None:
    """(layer, the longest name of ``layers`` that is ``module`` or holds it), or None."""
    found = [
        (len(name), depth, name)
        for depth, names in enumerate(layers)
        for name in names
        if module == name or module.startswith(name + ".")
    ]
    return max(found)[1:] if found else None


def against_the_layers(graph: dict[str, set[str]], layers=QA_LAYERS, allowed=frozenset()):
    """The imports that do not go down ``layers``: upwards, or sideways to another folder of
    the same layer unless ``allowed``."""
    wrong = set()
    for module, targets in graph.items():
        here = stage(module, layers)
        for target in targets:
            there = stage(target, layers)
            if here is None or there is None or here[1] == there[1]:
                continue
            if there[0] < here[0] or (there[0] == here[0] and (module, target) not in allowed):
                wrong.add((module, target))
    return wrong


def test_every_module_of_qa_has_its_stage():
    graph = import_graph(ancre_packages())
    qa = [m for m in graph if m.startswith("ancre.qa") and not m.startswith("ancre.qa.measure")]
    assert len(qa) > 25
    assert [m for m in qa if stage(m) is None] == []


def test_qa_imports_only_down_its_pipeline():
    graph = import_graph(ancre_packages())
    assert against_the_layers(graph, allowed=ACROSS_A_LAYER) == set()


def test_retrieval_reads_only_what_it_must():
    graph = import_graph(ancre_packages())
    reads = {
        (m, t)
        for m, ts in graph.items()
        if m.startswith("ancre.qa.retrieval")
        for t in ts
        if t.startswith("ancre.qa.reading")
    }
    assert reads <= RETRIEVAL_READS


def test_an_import_up_or_across_the_layers_is_found():
    layers = (("p.top",), ("p.a", "p.b"), ("p.leaf",))
    graph = {"p.top": {"p.a.x"}, "p.a.x": {"p.leaf", "p.a.y"}, "p.a.y": set(), "p.leaf": set()}
    assert against_the_layers(graph, layers) == set()
    graph["p.leaf"] = {"p.top"}
    graph["p.b"] = {"p.a.y"}
    assert against_the_layers(graph, layers) == {("p.leaf", "p.top"), ("p.b", "p.a.y")}
    assert against_the_layers(graph, layers, {("p.b", "p.a.y")}) == {("p.leaf", "p.top")}
