"""The Milvus store beyond the shared contract (test_stores.py): builds killed with kill -9
and repaired, readers in other processes, one-line errors. Real engine: conftest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from ancre.index import IndexSettings, StoreError, build
from ancre.index.lexical import analyze
from ancre.index.stores import MilvusAddress, open_reader
from ancre.index.stores.milvus.client import read_meta, terms_name, translate
from ancre.index.stores.milvus.schema import put_meta
from ancre.qa.retrieval.search import Retriever
from ancre.ui.cli import main
from conftest import HashEmbedder, free_port

# Each test starts processes (the engine, builds killed on purpose): seconds each.
pytestmark = pytest.mark.slow

CRASH = Path(__file__).with_name("milvus_crash.py")
LONG = " ".join(f"Le conseil a voté la délibération numéro {n} sur le budget." for n in range(60))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def corpus(root: Path, version: int) -> Path:
    """Version 1, then version 2: a.txt and d.txt changed, b.md gone, e.txt new."""
    write(root / "a.txt", f"Alpha\n\n{LONG} Version {version}.")
    write(root / "c.txt", "Gamma\n\nLe maire a été réélu avec 52 % des voix.")
    write(root / "d.txt", f"Delta\n\nLe pont suspendu rouvre, version {version}.")
    if version == 1:
        write(root / "b.md", "# Bêta\n\nLa médiathèque a coûté 12 millions d'euros.")
    else:
        (root / "b.md").unlink(missing_ok=True)
        write(root / "e.txt", "Epsilon\n\nLa piscine olympique ouvrira ses bassins en juin.")
    return root


def name(doc_id: str) -> str:
    """The file of a document id (``folder@key/path``), the same whichever folder holds it."""
    return doc_id.split("/", 1)[-1]


def state(where: str) -> tuple[dict[str, frozenset[str]], int]:
    """File -> the texts of its document's visible chunks (each listed document must be
    whole), and the number of chunk rows stored (orphans included)."""
    with open_reader(IndexSettings().at(where)) as r:
        listed = {d["doc_id"]: d["n_chunks"] for d in r.documents()}
        ids = [i for i, _ in r.dense_search(np.ones((1, 256), dtype="float32"), 10_000)[0]]
        texts: dict[str, set[str]] = defaultdict(set)
        counts: dict[str, int] = defaultdict(int)
        for row in r.chunks(ids).values():
            texts[row.doc_id].add(row.text)
            counts[row.doc_id] += 1
        assert dict(counts) == listed  # no document half-written, nothing unlisted visible
        return {name(d): frozenset(t) for d, t in texts.items()}, r.size


def stored_terms(uri: str) -> dict[str, int]:
    """The rows of a Milvus store's term-count collection."""
    from pymilvus import MilvusClient

    address = MilvusAddress.parse(uri)
    client = MilvusClient(uri=address.uri)
    try:
        layout = read_meta(client, address, "manifest")["layout"]
        rows = client.query(
            terms_name(address.collection, layout), filter='term != ""', output_fields=["df"]
        )
        return {r["term"]: r["df"] for r in rows}
    finally:
        client.close()


def term_counts(where: str, extra: set[str]) -> dict[str, int]:
    """``doc_freq`` of every word of the store's chunks and of ``extra``; on Milvus, from
    its term counts alone (no search per term)."""
    with open_reader(IndexSettings().at(where)) as r:
        if hasattr(r, "_df"):
            r._df = lambda term: pytest.fail(f"{term} was counted by search")
        ids = [i for i, _ in r.dense_search(np.ones((1, 256), dtype="float32"), 10_000)[0]]
        rows = r.chunks(ids).values()
        words = {t for row in rows for t in analyze(f"{row.title} {row.text}", "french")}
        return r.doc_freq(sorted(words | extra))


def assert_same_counts(uri: str, folder: str) -> None:
    """The Milvus store's term counts are the directory store's, term for term, and it
    keeps a row for every term some chunk holds and for no other."""
    stored = stored_terms(uri)
    counted = term_counts(folder, set(stored))
    assert term_counts(uri, set(stored)) == counted
    assert stored == {t: n for t, n in counted.items() if n}


def crash_build(uri: str, source: Path, method: str, nth: int, *extra: str, **env: str) -> int:
    run = subprocess.run(
        [sys.executable, str(CRASH), uri, str(source), method, str(nth), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert run.returncode in (0, -9), run.stderr[-2000:]
    return run.returncode


@pytest.mark.parametrize(
    "method, nth, extra",
    [
        ("insert", 1, ()),
        ("upsert", 2, ()),
        ("delete", 1, ()),
        ("delete", 3, ()),
        ("insert", 2, ("rebuild",)),  # a new document's head row is inserted
    ],
    ids=["before-chunks", "before-switch", "after-switch", "while-deleting", "re-embedding"],
)
def test_a_build_killed_anywhere_leaves_whole_documents_and_is_repaired(
    milvus_uri, tmp_path, method, nth, extra
):
    src = corpus(tmp_path / "src", 1)
    build([src], index_dir=milvus_uri, embedder=HashEmbedder())
    expected = {}
    for version in (1, 2):
        folder = str(tmp_path / f"dir{version}")
        build(
            [corpus(tmp_path / f"v{version}", version)], index_dir=folder, embedder=HashEmbedder()
        )
        expected[version] = state(folder)[0]
    corpus(src, 2)
    assert crash_build(milvus_uri, src, method, nth, *extra) == -9
    seen, _ = state(milvus_uri)
    for doc_id, texts in seen.items():
        assert texts in (expected[1].get(doc_id), expected[2].get(doc_id)), doc_id
    report = build([src], index_dir=milvus_uri, embedder=HashEmbedder(), prune=True)
    seen, rows = state(milvus_uri)
    assert seen == expected[2] and rows == sum(len(t) for t in seen.values())
    assert report.documents_total == len(expected[2])
    assert_same_counts(milvus_uri, str(tmp_path / "dir2"))


def test_term_counts_follow_adds_reindexing_pruning_and_renames(milvus_uri, tmp_path):
    src, folder = tmp_path / "src", str(tmp_path / "dir")
    both = (milvus_uri, folder)
    for where in both:
        build([corpus(src, 1)], index_dir=where, embedder=HashEmbedder())
    assert_same_counts(*both)
    corpus(src, 2)  # a.txt and d.txt changed, b.md gone, e.txt new
    for where in both:
        build([src], index_dir=where, embedder=HashEmbedder(), prune=True)
    assert_same_counts(*both)
    (src / "c.txt").rename(src / "c2.txt")
    for where in both:
        report = build([src], index_dir=where, embedder=HashEmbedder(), prune=True)
        assert (report.renamed, report.removed) == (1, 0)
    assert_same_counts(*both)


def test_a_killed_reembedding_goes_on_where_it_stopped(milvus_uri, tmp_path):
    src = corpus(tmp_path / "src", 1)
    first = build([src], index_dir=milvus_uri, embedder=HashEmbedder())
    before = state(milvus_uri)[0]
    # killed before the second staged commit's switch (its 4th insert: chunks, head rows)
    killed = crash_build(milvus_uri, src, "insert", 4, "rebuild", ANCRE_COMMIT_DOCS="2")
    assert killed == -9 and state(milvus_uri)[0] == before  # readers keep the old layout
    counting = HashEmbedder()
    again = build([src], index_dir=milvus_uri, embedder=counting, rebuild=True)
    assert again.reembedded == "rebuild requested"
    assert 0 < counting.texts < first.chunks_total  # the first staged commit was kept
    assert state(milvus_uri) == (before, first.chunks_total)


def test_a_first_build_killed_is_started_again(milvus_uri, tmp_path):
    src = corpus(tmp_path / "src", 1)
    assert crash_build(milvus_uri, src, "insert", 1) == -9
    with pytest.raises(StoreError, match="no finished index build"):
        open_reader(IndexSettings().at(milvus_uri))
    report = build([src], index_dir=milvus_uri, embedder=HashEmbedder())
    assert report.added == 4 and state(milvus_uri)[1] == report.chunks_total


def test_readers_follow_builds_made_by_another_process(milvus_uri, tmp_path):
    src = corpus(tmp_path / "src", 1)
    build([src], index_dir=milvus_uri, embedder=HashEmbedder())
    readers = [Retriever.open(milvus_uri, embedder=HashEmbedder()) for _ in range(2)]
    question = "Quand la piscine olympique ouvrira-t-elle ses bassins ?"
    assert all(name(r.search(question, 3)[0].doc_id) != "e.txt" for r in readers)
    assert crash_build(milvus_uri, corpus(src, 2), "insert", 0) == 0
    for r in readers:
        r.refresh()
        hits = r.search(question, 3)
        assert name(hits[0].doc_id) == "e.txt" and "b.md" not in {name(p.doc_id) for p in hits}
    assert crash_build(milvus_uri, src, "insert", 0, "rebuild") == 0  # a new layout
    for r in readers:  # the old collections are gone: the readers follow without refresh
        assert name(r.search(question, 3)[0].doc_id) == "e.txt"
        r.close()


def test_unreachable_server_is_one_line_and_writes_nothing(tmp_path, capsys):
    pytest.importorskip("pymilvus")
    uri = f"milvus://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=r"cannot reach Milvus at 127\.0\.0\.1"):
        build([corpus(tmp_path / "src", 1)], index_dir=uri, embedder=HashEmbedder())
    assert main(["index", "list", "--store", uri, "--index-dir", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ancre: error: cannot reach Milvus") and err.count("\n") == 1
    assert not (tmp_path / "d").exists()


def test_a_refused_token_says_which_setting_to_fix():
    pytest.importorskip("pymilvus")
    from pymilvus.exceptions import MilvusException

    err = MilvusException(
        code=1800,
        message="auth check failure, please check username, password or token are correct",
    )
    message = str(translate(err, MilvusAddress.parse("milvus://db.example:19530/news")))
    assert "refused the token" in message and "ANCRE_STORE_TOKEN" in message


def test_missing_pymilvus_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    with pytest.raises(StoreError, match=r'pip install "ancre\[milvus\]"'):
        open_reader(IndexSettings(store="milvus://127.0.0.1:19530"))


def test_hnsw_on_milvus_lite_is_refused_before_anything_is_written(milvus_uri, tmp_path):
    s = IndexSettings(vector_index="hnsw").at(milvus_uri)
    with pytest.raises(StoreError, match="--vector-index flat"):
        build([corpus(tmp_path / "src", 1)], settings=s, embedder=HashEmbedder())
    with pytest.raises(StoreError, match="no finished index build"):
        open_reader(s)


def test_a_milvus_store_wins_over_the_index_dir(milvus_uri, tmp_path, monkeypatch, capsys):
    build([corpus(tmp_path / "src", 1)], index_dir=milvus_uri, embedder=HashEmbedder())
    monkeypatch.setenv("ANCRE_STORE", milvus_uri)
    assert main(["index", "stats", "--index-dir", str(tmp_path / "d"), "--json"]) == 0
    out = capsys.readouterr().out
    assert f'"store": "{MilvusAddress.parse(milvus_uri)}"' in out and '"documents": 4' in out
    assert main(["index", "list", "--index-dir", str(tmp_path / "d")]) == 0
    assert "a.txt" in capsys.readouterr().out and not (tmp_path / "d").exists()


def test_where_the_store_is_named():
    uri = "milvus://db.example:19530/news"
    assert IndexSettings().at(uri).store == uri
    assert IndexSettings(index_dir=uri).store == uri  # ANCRE_INDEX_DIR, ask(index_dir=...)
    assert IndexSettings(store=uri).at("/tmp/elsewhere").store == uri  # Milvus wins
    assert IndexSettings().at("/tmp/elsewhere").index_dir == "/tmp/elsewhere"
    assert IndexSettings(store="/tmp/d").index_dir == "/tmp/d"  # --store DIR
    assert IndexSettings(store="/tmp/d").store == ""


def test_bad_store_uri_is_refused_naming_the_form():
    with pytest.raises(ValueError, match=r"milvus://HOST:PORT\[/COLLECTION\]"):
        IndexSettings(store="milvus://no-port/x")
    with pytest.raises(ValueError, match="COLLECTION"):
        IndexSettings(store="milvus://h:19530/bad-name")


@pytest.mark.slow
def test_cli_on_milvus_with_the_real_model(milvus_uri, capsys, monkeypatch):
    from ancre.samples import ARTICLES

    store = ["--store", milvus_uri]
    assert main(["index", "build", str(ARTICLES), *store]) == 0
    out = capsys.readouterr().out
    assert "14 added" in out and f"in {MilvusAddress.parse(milvus_uri)}" in out
    assert main(["index", "stats", *store, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 14 and stats["embed_model"] == "all-MiniLM-L6-v2"
    question = "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis ?"
    assert main(["ask", question, *store, "--json", "--llm", "none"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["mode"] in ("stated", "evidence") and "74 500" in answer["text"]
    festival = str(ARTICLES / "festival-rives-et-rythmes-2025.html")  # a file names its documents
    assert main(["index", "remove", festival, *store]) == 0
    assert "1 removed" in capsys.readouterr().out
    assert main(["ask", question, *store, "--json", "--llm", "none"]) == 0
    assert "74 500" not in json.loads(capsys.readouterr().out)["text"]
    monkeypatch.setenv("ANCRE_EMBED_MODEL", "other-model")
    assert main(["ask", question, *store]) == 1
    err = capsys.readouterr().err
    assert "was built with all-MiniLM-L6-v2" in err and f"--store {milvus_uri}" in err


def test_the_store_token_is_never_shown(monkeypatch, capsys):
    monkeypatch.setenv("ANCRE_STORE_TOKEN", "s3cret")
    assert main(["config", "--store", "milvus://127.0.0.1:19530/news"]) == 0
    out = capsys.readouterr().out
    assert "store_token = '***'" in out and "s3cret" not in out
    assert "s3cret" not in repr(IndexSettings.from_env())


def test_the_web_chat_reads_and_removes_on_milvus(milvus_uri, tmp_path):
    from ancre.ui.library import Library
    from ancre.ui.serve import has_index

    s = IndexSettings().at(milvus_uri)
    assert not has_index(s)
    report = build([corpus(tmp_path / "src", 1)], settings=s, embedder=HashEmbedder())
    assert has_index(s)
    library = Library(s, embedder=HashEmbedder())
    assert library.summary()[:2] == (4, report.chunks_total)
    [doc] = library.documents("beta")  # accents and case ignored
    assert name(doc["doc_id"]) == "b.md"
    assert library.remove(doc["doc_id"]) == "Bêta" and library.summary()[0] == 3


def test_bench_says_how_to_measure_a_milvus_store(capsys):
    assert main(["bench", "--store", "milvus://127.0.0.1:19530/news", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "ancre eval --retrieval-only --store" in err and err.count("\n") == 1


def test_the_rows_of_search_hits_are_read_without_asking_again(milvus_uri, tmp_path):
    build([corpus(tmp_path / "src", 1)], index_dir=milvus_uri, embedder=HashEmbedder())
    settings = IndexSettings(store=milvus_uri)
    with open_reader(settings) as reader, open_reader(settings) as other:
        ids = [i for i, _ in reader.lexical_search("conseil budget maire", 5)]
        assert len(ids) >= 2
        asked = []
        get = reader.client.get
        reader.client.get = lambda name, **kw: asked.append(name) or get(name, **kw)
        assert reader.chunks(ids) == other.chunks(ids)  # other has searched nothing
        np.testing.assert_array_equal(reader.chunk_vectors(ids), other.chunk_vectors(ids))
        assert asked and not [n for n in asked if "_chunks_" in n]  # documents' rows only
        build([corpus(tmp_path / "src", 2)], index_dir=milvus_uri, embedder=HashEmbedder())
        assert reader.refresh()  # a new generation: its rows are asked for again
        assert reader.chunks(ids) == other.chunks(ids)
        assert [n for n in asked if "_chunks_" in n]


def forget_term_counts(uri: str) -> None:
    """Make the store as ancre wrote it before it kept term counts."""
    from pymilvus import MilvusClient

    address = MilvusAddress.parse(uri)
    client = MilvusClient(uri=address.uri)
    manifest = read_meta(client, address, "manifest")
    assert manifest.pop("term_counts")
    client.drop_collection(terms_name(address.collection, manifest["layout"]))
    put_meta(client, address, "manifest", manifest)
    client.close()


def test_a_store_without_term_counts_counts_by_search_until_the_next_build(
    milvus_uri, tmp_path, caplog
):
    src = corpus(tmp_path / "src", 1)
    build([src], index_dir=milvus_uri, embedder=HashEmbedder())
    with open_reader(IndexSettings(store=milvus_uri)) as reader:
        expected = reader.doc_freq(["conseil", "mair", "budget"])
    assert all(expected.values())
    forget_term_counts(milvus_uri)
    with caplog.at_level("WARNING"):
        reader = open_reader(IndexSettings(store=milvus_uri))
    assert "keeps no term counts" in caplog.text and "ancre index build" in caplog.text
    assert reader.doc_freq(["conseil", "mair", "budget"]) == expected  # by search
    reader.close()
    report = build([src], index_dir=milvus_uri, embedder=HashEmbedder())
    assert report.unchanged == report.documents_total  # nothing written but the counts
    reader = open_reader(IndexSettings(store=milvus_uri))
    reader._df = lambda term: pytest.fail(f"{term} was counted by search")
    assert reader.doc_freq(["conseil", "mair", "budget"]) == expected
    reader.close()


def test_term_frequencies_are_counted_once_per_generation(milvus_uri, tmp_path):
    src = corpus(tmp_path / "src", 1)
    build([src], index_dir=milvus_uri, embedder=HashEmbedder())
    forget_term_counts(milvus_uri)  # counted by search: each term costs requests
    reader = open_reader(IndexSettings(store=milvus_uri))
    counted = []
    count = reader._df
    reader._df = lambda term: counted.append(term) or count(term)
    first = reader.doc_freq(["piscin", "bassin"])
    assert reader.doc_freq(["bassin", "piscin"]) == first and counted == ["piscin", "bassin"]
    forget = reader._counted
    reader._counted = lambda terms: counted.append(tuple(terms)) or forget(terms)
    build([corpus(src, 2)], index_dir=milvus_uri, embedder=HashEmbedder())  # counts them
    assert reader.refresh()
    assert reader.doc_freq(["piscin", "bassin"]) == reader.doc_freq(["bassin", "piscin"])
    assert counted == ["piscin", "bassin", ("piscin", "bassin")]  # one request, once
    assert reader.doc_freq(["piscin"])["piscin"] == count("piscin") == 1
    sizes = reader._count
    reader._count = lambda *args: counted.append("size") or sizes(*args)
    assert reader.term_stats(["piscin"]) == reader.term_stats(["piscin"])
    assert counted[-1:] == ["size"] and counted.count("size") == 1  # once per generation
    reader.close()
