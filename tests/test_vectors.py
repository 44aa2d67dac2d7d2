"""The vector index kinds (index/stores/directory/vectors.py) and the writer that keeps them:
fast, fake embedder, indexes under tmp_path."""

from dataclasses import replace

import numpy as np
import pytest

from ancre.index import IndexReader, IndexSettings, build, remove
from ancre.index.stores.directory import vectors as V
from conftest import HashEmbedder


def unit_rows(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def corpus(root, n: int):
    root.mkdir(parents=True, exist_ok=True)
    words = [
        "tramway",
        "médiathèque",
        "maire",
        "budget",
        "école",
        "piscine",
        "vélo",
        "marché",
        "musée",
        "stade",
    ]
    for i in range(n):
        picked = " ".join(words[(i + j) % len(words)] for j in range(4))
        text = f"Article {i}\n\nLe sujet {i} parle de {picked} et du quartier numéro {i}."
        (root / f"doc{i:03d}.txt").write_text(text, encoding="utf-8")
    return root


def test_auto_is_exact_below_the_threshold_and_approximate_from_it():
    assert V.kind_for("auto", V.APPROX_FROM - 1) == "flat"
    assert V.kind_for("auto", V.APPROX_FROM) == "ivf"
    assert V.kind_for("flat", 10**7) == "flat" and V.kind_for("ivf", 10) == "ivf"
    with pytest.raises(ValueError, match="ANCRE_VECTOR_INDEX"):
        V.kind_for("annoy", 10)


@pytest.mark.parametrize("n", [1, 50, 1_000, 20_000, 100_000, 1_000_000])
def test_ivf_cells_have_enough_training_points(n):
    nlist = V.ivf_lists(n)
    assert nlist == 1 or n >= V.IVF_POINTS_PER_LIST * nlist
    assert 1 <= V.ivf_probes(nlist) <= nlist


def test_ivf_retrains_only_when_the_size_moved_far():
    n = 100_000
    nlist = V.ivf_lists(n)
    layout = {"kind": "ivf", "nlist": nlist}
    assert not V.layout_due(layout, "auto", n)
    assert not V.layout_due(layout, "auto", 2 * n)
    assert V.layout_due(layout, "auto", 40 * n)
    assert V.layout_due(layout, "auto", V.APPROX_FROM - 1)  # back to exact
    assert V.layout_due({"kind": "flat"}, "auto", V.APPROX_FROM)


def test_ivf_adds_removes_and_gives_back_its_vectors():
    x = unit_rows(2_000)
    ids = np.arange(100, 2_100, dtype="int64")
    index = V.build(16, "ivf", ids, x)
    assert V.kind_of(index) == "ivf" and V.describe(index)["nlist"] == V.ivf_lists(2_000)
    np.testing.assert_allclose(index.reconstruct(150), x[50])
    index = V.remove(index, [100, 150, 2_099])
    got_ids, got = V.contents(index)
    assert index.ntotal == 1_997 and 150 not in set(got_ids)
    keep = ~np.isin(ids, [100, 150, 2_099])
    np.testing.assert_array_equal(got_ids, ids[keep])
    np.testing.assert_allclose(got, x[keep])
    _, found = index.search(x[[10, 500]], 1)
    assert found[:, 0].tolist() == [110, 600]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_fit_converts_without_losing_a_vector(kind):
    x = unit_rows(300, seed=1)
    ids = np.arange(1, 301, dtype="int64")
    index = V.build(16, kind, ids, x)
    as_ivf = V.fit(index, "ivf")
    assert V.kind_of(as_ivf) == "ivf"
    back = V.fit(as_ivf, kind)
    assert V.kind_of(back) == kind
    for converted in (as_ivf, back):
        got_ids, got = V.contents(converted)
        order = np.argsort(got_ids)
        np.testing.assert_array_equal(got_ids[order], ids)
        np.testing.assert_allclose(got[order], x, atol=1e-6)
    assert V.fit(back, kind) is back  # nothing to do


def dense_ids(reader: IndexReader) -> set[int]:
    return {int(i) for i in reader.ids()}


def test_an_ivf_index_follows_adds_updates_and_removals(tmp_path):
    src = corpus(tmp_path / "src", 200)  # 4 cells
    s = IndexSettings(index_dir=str(tmp_path / "idx"), vector_index="ivf")
    fake = HashEmbedder()
    build([src], settings=s, embedder=fake)
    (src / "doc005.txt").write_text("Nouveau\n\nLe texte a changé : un zoo.", encoding="utf-8")
    (src / "doc201.txt").write_text("Ajout\n\nUne nouvelle gare routière.", encoding="utf-8")
    report = build([src], settings=s, embedder=fake)
    assert report.updated == 1 and report.added == 1
    removed, _ = remove([str(src / "doc007.txt")], settings=s, embedder=fake)
    assert len(removed) == 1
    with IndexReader(s.index_dir) as reader:
        assert reader.manifest["vectors"] == {"kind": "ivf", "nlist": 4, "nprobe": 4}
        rows = reader.chunks(sorted(dense_ids(reader)))
        assert reader.size == len(rows) == reader.stats()["chunks"] == 200
        assert not any(r.doc_id.endswith("doc007.txt") for r in rows.values())
        for cid, row in list(rows.items())[:20]:  # each chunk finds itself first
            query = reader.chunk_vectors([cid])
            assert reader.dense_search(query, 1)[0][0][0] == cid, row.text
        zoo = [r for r in rows.values() if "zoo" in r.text]
        assert len(zoo) == 1 and zoo[0].doc_id.endswith("doc005.txt")


def test_changing_the_vector_index_converts_without_embedding_again(tmp_path):
    src = corpus(tmp_path / "src", 30)
    s = IndexSettings(index_dir=str(tmp_path / "idx"), vector_index="flat")
    fake = HashEmbedder()
    build([src], settings=s, embedder=fake)
    embedded = fake.texts
    with IndexReader(s.index_dir) as reader:
        before = {cid: reader.chunk_vectors([cid])[0] for cid in dense_ids(reader)}
        assert reader.manifest["vectors"] == {"kind": "flat"}
    for kind in ("ivf", "flat", "auto"):
        report = build([src], settings=replace(s, vector_index=kind), embedder=fake)
        assert report.reembedded == "" and fake.texts == embedded
        with IndexReader(s.index_dir) as reader:
            want = "flat" if kind == "auto" else kind  # 30 chunks: auto stays exact
            assert reader.manifest["vectors"]["kind"] == want
            assert dense_ids(reader) == set(before)
            for cid, vector in before.items():
                np.testing.assert_allclose(reader.chunk_vectors([cid])[0], vector, atol=1e-6)
    generation = IndexReader(s.index_dir).generation
    build([src], settings=replace(s, vector_index="auto"), embedder=fake)
    assert IndexReader(s.index_dir).generation == generation  # nothing to convert: no commit


def test_a_model_change_keeps_the_vector_index_kind(tmp_path):
    src = corpus(tmp_path / "src", 20)
    s = IndexSettings(index_dir=str(tmp_path / "idx"), vector_index="ivf")
    build([src], settings=s, embedder=HashEmbedder())
    other = HashEmbedder(dim=64, model_id="hash-64")
    report = build([src], settings=s, embedder=other)
    assert "embed_model changed" in report.reembedded
    with IndexReader(s.index_dir) as reader:
        assert reader.manifest["vectors"]["kind"] == "ivf" and reader.manifest["embed_dim"] == 64
        assert reader.size == reader.stats()["chunks"] == other.texts


def test_ids_are_checked_against_the_chunks_by_their_aggregates():
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc_id TEXT)")
    conn.execute("CREATE INDEX chunks_doc ON chunks(doc_id)")
    conn.executemany("INSERT INTO chunks VALUES (?, 'd')", [(i,) for i in range(1, 2001)])
    vectors = unit_rows(2000)
    ivf = V.build(16, "ivf", np.arange(1, 2001, dtype="int64"), vectors)
    assert V.kind_of(ivf) == "ivf" and V.id_mismatch(conn, ivf) == ""
    shifted = V.build(16, "flat", np.arange(2, 2002, dtype="int64"), vectors)
    assert V.id_mismatch(conn, shifted) == "its vector ids are not the chunk ids"
    fewer = V.build(16, "ivf", np.arange(1, 2000, dtype="int64"), vectors[:1999])
    assert V.id_mismatch(conn, fewer) == "1999 vectors for 2000 chunks"
    assert np.array_equal(V.ids_of(ivf), np.arange(1, 2001))


def test_a_reader_maps_an_ivf_file_and_searches_it_as_read_whole(tmp_path):
    import faiss

    vectors = unit_rows(3000, seed=3)
    ivf = V.build(16, "ivf", np.arange(1, 3001, dtype="int64"), vectors)
    path = tmp_path / "v.faiss"
    faiss.write_index(ivf, str(path))
    flags = V.read_flags({"kind": "ivf"})
    assert V.read_flags({"kind": "flat"}) == 0
    mapped, whole = faiss.read_index(str(path), flags), faiss.read_index(str(path))
    for index in (mapped, whole):
        V.tune(index, V.describe(ivf))
    query = vectors[:5]
    assert np.array_equal(mapped.search(query, 10)[1], whole.search(query, 10)[1])
    assert np.array_equal(V.ids_of(mapped), np.arange(1, 3001))
