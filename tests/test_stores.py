"""The store contract: the same assertions on the directory store and on Milvus (the real
engine, see conftest.milvus_server), through ``open_writer`` / ``open_reader`` only."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ancre.index import (
    BuildLocked,
    Document,
    IndexSettings,
    analyze,
    build,
    embed_text,
    is_milvus,
    remove,
)
from ancre.index.chunker import ChunkSpan
from ancre.index.stores import Batch, PreparedDocument, open_reader, open_writer
from ancre.qa import Filters, ask
from ancre.qa.retrieve import Retriever
from ancre.samples import ARTICLES
from conftest import HashEmbedder, ScriptedGenerator

SAMPLE_QUESTIONS = [
    "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis ?",
    "Quel est le préjudice total des arnaques aux faux assistants virtuels autour de Bellerive ?",
    "Combien a coûté la remise en état du site piraté de la mairie de Vernay-sur-Sarthe ?",
    "Quelle température record a été relevée à Port-Joubert pendant la canicule d’août 2025 ?",
    "Qui a remporté l’élection municipale de Saint-Aubin-des-Prés en 2024 ?",
    "Et en 2025 ?",
]

EMB = HashEmbedder()
LONG = "Le port de Joubert. " * 1500  # 30,000 characters: more than one Milvus text row


def manifest(dim: int = 256, model: str = "hash-256") -> dict:
    return {
        "format_version": 1,
        "embed_model": model,
        "embed_dim": dim,
        "chunker": {"splitter": "test"},
        "language": "french",
        "vector_index": "flat",
    }


def prepared(doc: Document, pieces: list[str], embedder=EMB) -> PreparedDocument:
    """A document cut at ``pieces`` (which must appear in its text, in order)."""
    spans, at = [], 0
    for n, piece in enumerate(pieces):
        start = doc.text.index(piece, at)
        spans.append(ChunkSpan(n, start, start + len(piece), piece))
        at = start + 1
    texts = [embed_text(doc.title, s.text) for s in spans]
    lexical = [" ".join(analyze(t)) for t in texts]
    return PreparedDocument(doc, spans, lexical, embedder.embed(texts))


TRAM = Document(
    "tram.txt",
    "Le tramway de Lyon a ouvert en 2001. Il compte cinq lignes.",
    "Tramway",
    date="2024-03-01",
)
LIB = Document(
    "médiathèque/b.md",
    "La médiathèque a coûté 12 millions d'euros. Les présidents ont inauguré la médiathèque.",
    "Bêta",
    url="https://example.org/b",
    metadata={"tags": ["culture"]},
)
PORT = Document("port.txt", LONG, "Port", author="A. Auteur")


def first_batch() -> Batch:
    return Batch(
        [
            prepared(TRAM, ["Le tramway de Lyon a ouvert en 2001.", "Il compte cinq lignes."]),
            prepared(
                LIB,
                ["La médiathèque a coûté 12 millions d'euros.", "Les présidents ont inauguré"],
            ),
            prepared(PORT, [LONG[:40]]),
        ],
        [],
        manifest(),
    )


def settings_for(store: str) -> IndexSettings:
    return IndexSettings().at(store)


def all_rows(reader) -> dict:
    """Every visible chunk (a flat index returns every vector for a wide enough k)."""
    ids = [i for i, _ in reader.dense_search(np.ones((1, 256), dtype="float32"), 1000)[0]]
    return reader.chunks(ids)


def test_write_then_read_everything_back(store):
    s = settings_for(store)
    w = open_writer(s)
    try:
        assert w.manifest == {} and w.known() == {}
        w.write(first_batch())
        assert w.known() == {d.doc_id: d.hash for d in (TRAM, LIB, PORT)}
        assert w.counts() == (3, 5)
        back = {d.doc_id: d for d in w.stored_documents()}
        assert back == {d.doc_id: d for d in (TRAM, LIB, PORT)}
    finally:
        w.close()
    with open_reader(s) as r:
        assert r.manifest["embed_model"] == "hash-256" and r.manifest["generation"] >= 1
        assert r.size == 5
        hits = r.lexical_search("Quand le tramway de Lyon a-t-il ouvert ?", 5)
        rows = r.chunks([i for i, _ in hits])
        top = rows[hits[0][0]]
        assert top.doc_id == "tram.txt" and top.text == "Le tramway de Lyon a ouvert en 2001."
        assert TRAM.text[top.start : top.end] == top.text and top.title == "Tramway"
        assert top.date == "2024-03-01" and hits[0][1] > 0
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert r.lexical_search("le la les", 5) == []
        q = EMB.embed(["médiathèque présidents"])
        dense = r.dense_search(q, 2)[0]
        assert r.chunks([dense[0][0]])[dense[0][0]].doc_id == "médiathèque/b.md"
        assert dense[0][1] == pytest.approx(float(r.chunk_vectors([dense[0][0]])[0] @ q[0]))
        every = all_rows(r)
        assert len(every) == 5
        ids = sorted(every)
        stored = r.chunk_vectors(ids)
        expected = EMB.embed([embed_text(every[i].title, every[i].text) for i in ids])
        np.testing.assert_allclose(stored, expected, atol=1e-6)
        idf, df = r.term_stats(["mediathequ", "tramway", "lyon", "absent"])
        assert df == {"mediathequ": 1, "tramway": 2, "lyon": 1, "absent": 0}
        assert idf["absent"] > idf["lyon"] > idf["tramway"] > 0
        assert idf["lyon"] == pytest.approx(np.log(1 + (5 - 1 + 0.5) / 1.5))
        docs = r.documents()
        assert [d["doc_id"] for d in docs] == ["médiathèque/b.md", "port.txt", "tram.txt"]
        assert docs[0]["url"] == "https://example.org/b" and docs[0]["n_chunks"] == 2
        stats = r.stats()
        assert (stats["documents"], stats["chunks"]) == (3, 5)


def test_update_and_remove_are_seen_after_refresh(store):
    s = settings_for(store)
    w = open_writer(s)
    w.write(first_batch())
    r = open_reader(s)
    old = {i: row.text for i, row in all_rows(r).items()}
    new_tram = Document("tram.txt", "Le tramway de Lyon compte sept lignes.", "Tramway")
    w.write(Batch([prepared(new_tram, [new_tram.text])], ["médiathèque/b.md", "nope"], manifest()))
    assert w.known() == {"tram.txt": new_tram.hash, "port.txt": PORT.hash}
    assert w.counts() == (2, 2)
    w.close()
    assert r.refresh() and not r.refresh()
    assert not r.chunks([i for i, text in old.items() if text != LONG[:40]])
    left = all_rows(r)
    assert sorted(row.text for row in left.values()) == sorted([new_tram.text, LONG[:40]])
    assert r.lexical_search("médiathèque présidents", 5) == []
    hit = r.lexical_search("sept lignes", 1)[0][0]
    assert r.chunks([hit])[hit].text == new_tram.text
    assert r.term_stats(["mediathequ"])[1] == {"mediathequ": 0}
    r.close()


def test_fresh_batch_replaces_everything_even_the_vector_size(store):
    s = settings_for(store)
    w = open_writer(s)
    w.write(first_batch())
    r = open_reader(s)
    small = HashEmbedder(dim=64, model_id="hash-64")
    w.write(Batch([prepared(TRAM, [TRAM.text], small)], [], manifest(64, "hash-64"), fresh=True))
    assert w.known() == {"tram.txt": TRAM.hash} and w.counts() == (1, 1)
    w.close()
    assert r.refresh() and r.manifest["embed_model"] == "hash-64"
    [(cid, score)] = r.dense_search(small.embed([embed_text(TRAM.title, TRAM.text)]), 5)[0]
    assert score == pytest.approx(1.0, abs=1e-3) and r.chunks([cid])[cid].doc_id == "tram.txt"
    assert r.chunk_vectors([cid]).shape == (1, 64)
    r.close()


def test_one_build_at_a_time(store):
    s = settings_for(store)
    w = open_writer(s)
    try:
        with pytest.raises(BuildLocked, match="another build"):
            open_writer(s)
    finally:
        w.close()
    open_writer(s).close()  # released


def test_a_store_without_a_finished_build_says_what_to_run(store):
    with pytest.raises(Exception, match="ancre index build") as err:
        open_reader(settings_for(store))
    assert "\n" not in str(err.value)


# ---- end to end: build + ask + remove + rebuild, the same on both stores

QUESTION = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
TRAM_DOC = "tramway-ligne-c-bellerive.md"
OFF_TOPIC = "Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?"


def asked(store: str, question: str, embedder: HashEmbedder, **kwargs):
    return ask(
        question,
        index_dir=store,
        embedder=embedder,
        generator=ScriptedGenerator("Le samedi 13 septembre 2025 [1]."),
        **kwargs,
    )


def test_build_ask_remove_rebuild(store, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ARTICLES, src)
    emb = HashEmbedder()
    first = build([src], index_dir=store, embedder=emb)
    assert first.added >= 14 and not first.skipped and first.chunks == first.chunks_total
    again = build([src], index_dir=store, embedder=emb)
    assert (again.added, again.unchanged, again.chunks) == (0, first.added, 0)

    answer = asked(store, QUESTION, emb)
    assert not answer.abstained and "13 septembre 2025" in answer.text
    cited = answer.citations[0]
    assert cited.doc_id == TRAM_DOC
    assert cited.text[cited.sentence_start : cited.sentence_end] == cited.sentence
    with open_writer(settings_for(store)) as w:
        texts = {d.doc_id: d.text for d in w.stored_documents()}
    for p in answer.passages:
        assert texts[p.doc_id][p.start : p.end] == p.text
    assert asked(store, OFF_TOPIC, emb).abstained
    only = asked(store, QUESTION, emb, filters=Filters(source="canicule"))
    assert only.passages and all("canicule" in p.doc_id for p in only.passages)
    dated = asked(store, QUESTION, emb, filters=Filters(date_from="2025-09"))
    assert dated.passages and all(p.date >= "2025-09" for p in dated.passages)

    removed, missing = remove([TRAM_DOC, "nope"], index_dir=store, embedder=emb)
    assert (removed, missing) == ([TRAM_DOC], ["nope"])
    gone = asked(store, QUESTION, emb)
    assert all(p.doc_id != TRAM_DOC for p in gone.passages)

    back = build([src], index_dir=store, embedder=emb)
    assert (back.added, back.unchanged) == (1, first.added - 1)
    assert asked(store, QUESTION, emb).citations[0].doc_id == TRAM_DOC

    (src / "canicule-record-port-joubert.txt").unlink()
    pruned = build([src], index_dir=store, embedder=emb, prune=True)
    assert pruned.removed == 1 and pruned.documents_total == first.documents_total - 1

    other = HashEmbedder(dim=128, model_id="hash-128")
    moved = build([src], index_dir=store, embedder=other)
    assert "embed_model changed" in moved.reembedded
    assert moved.chunks == moved.chunks_total == pruned.chunks_total
    assert asked(store, QUESTION, other).citations[0].doc_id == TRAM_DOC
    with pytest.raises(ValueError, match="was built with hash-128") as err:
        Retriever.open(store, settings=IndexSettings(embed_model="all-MiniLM-L6-v2"))
    flag = "--store" if is_milvus(store) else "--index-dir"
    assert f"{flag} {store}" in str(err.value)


def test_the_same_answers_from_both_stores(tmp_path, milvus_uri):
    """Same analysis, same statistics, same fusion: the store does not change the answer.
    (BM25's idf differs a little for very frequent terms: FTS5 uses log((N-n+.5)/(n+.5)),
    Milvus log(1+(N-n+.5)/(n+.5)), so lower ranks can swap: the answers, their citations,
    the best passage and the lexical top 3 are compared; recall is measured in
    docs/milvus.md.)"""
    emb = HashEmbedder()
    folder = str(tmp_path / "index")
    for where in (folder, milvus_uri):
        build([ARTICLES], index_dir=where, embedder=emb)
    questions = [QUESTION, OFF_TOPIC, *SAMPLE_QUESTIONS]
    with open_reader(settings_for(folder)) as a, open_reader(settings_for(milvus_uri)) as b:
        for q in questions:
            terms = analyze(q)
            assert a.term_stats(terms)[1] == b.term_stats(terms)[1], q
            heads = []
            for reader in (a, b):
                hits = reader.lexical_search(q, 3)
                rows = reader.chunks([i for i, _ in hits])
                heads.append([(rows[i].doc_id, rows[i].ord) for i, _ in hits])
            assert heads[0] == heads[1], q
    for q in questions:
        x, y = asked(folder, q, emb), asked(milvus_uri, q, emb)
        assert (x.text, x.abstained) == (y.text, y.abstained), q
        cited = [[(c.doc_id, c.sentence) for c in a.citations] for a in (x, y)]
        assert cited[0] == cited[1], q
        assert (x.passages[0].doc_id, x.passages[0].start) == (
            y.passages[0].doc_id,
            y.passages[0].start,
        ), q
