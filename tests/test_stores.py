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
from ancre.index.stores import open_reader, open_writer
from ancre.qa import Filters, ask
from ancre.qa.retrieval.search import Retriever
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
LONG = "Le port de Joubert accueille les ferries. " * 750  # 31,500 characters: many chunks
TRAM = Document(
    "tram.txt",
    "Le tramway de Lyon a ouvert en 2001. Il compte cinq lignes.",
    "Tramway",
    date="2024-03-01",
    source="/articles/tram.txt",
)
LIB = Document(
    "médiathèque/b.md",
    "La médiathèque a coûté 12 millions d'euros. Les présidents ont inauguré la médiathèque.",
    "Bêta",
    url="https://example.org/b",
    source="/articles/médiathèque/b.md",
    metadata={"tags": ["culture"]},
)
PORT = Document("port.txt", LONG, "Port", author="A. Auteur", source="/articles/port.txt")


def settings_for(store: str) -> IndexSettings:
    return IndexSettings().at(store)


def writer(store: str, embedder=EMB, **kwargs):
    return open_writer(settings_for(store), embedder=embedder, **kwargs)


def all_rows(reader) -> dict:
    """Every visible chunk (a flat index returns every vector for a wide enough k)."""
    dim = reader.manifest["embed_dim"]
    ids = [i for i, _ in reader.dense_search(np.ones((1, dim), dtype="float32"), 1000)[0]]
    return reader.chunks(ids)


def test_write_then_read_everything_back(store):
    with writer(store) as w:
        assert w.known_sources() == {} and not w.reembed_reason
        for doc in (TRAM, LIB, PORT):
            w.put(doc)
        n = w.commit()
        assert w.known_sources() == {d.doc_id: (d.hash, d.source) for d in (TRAM, LIB, PORT)}
        assert w.counts() == (3, n) and n > 5
        assert {d.doc_id: d for d in w.stored_documents()} == {
            d.doc_id: d for d in (TRAM, LIB, PORT)
        }
    with open_reader(settings_for(store)) as r:
        assert r.manifest["embed_model"] == "hash-256" and r.manifest["generation"] >= 1
        assert r.size == n
        hits = r.lexical_search("Quand le tramway de Lyon a-t-il ouvert ?", 5)
        rows = r.chunks([i for i, _ in hits])
        top = rows[hits[0][0]]
        assert top.doc_id == "tram.txt" and top.title == "Tramway" and top.date == "2024-03-01"
        assert TRAM.text[top.start : top.end] == top.text and hits[0][1] > 0
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert r.lexical_search("le la les", 5) == []
        q = EMB.embed(["médiathèque présidents"])
        dense = r.dense_search(q, 2)[0]
        assert r.chunks([dense[0][0]])[dense[0][0]].doc_id == "médiathèque/b.md"
        assert dense[0][1] == pytest.approx(float(r.chunk_vectors([dense[0][0]])[0] @ q[0]))
        every = all_rows(r)
        assert len(every) == n
        for row in every.values():
            doc = {"tram.txt": TRAM, "médiathèque/b.md": LIB, "port.txt": PORT}[row.doc_id]
            assert doc.text[row.start : row.end] == row.text
        ids = sorted(every)
        expected = EMB.embed([embed_text(every[i].title, every[i].text) for i in ids])
        np.testing.assert_allclose(r.chunk_vectors(ids), expected, atol=1e-6)
        terms = ["mediathequ", "tramway", "port", "absent"]
        analysed = [set(analyze(embed_text(row.title, row.text))) for row in every.values()]
        idf, df = r.term_stats(terms)
        assert df == {t: sum(t in a for a in analysed) for t in terms}
        assert df["port"] == len(every) - 2 and df["absent"] == 0
        assert idf["mediathequ"] == pytest.approx(np.log(1 + (n - 1 + 0.5) / 1.5))
        assert idf["absent"] > idf["mediathequ"] > idf["port"] > 0
        docs = r.documents()
        assert [d["doc_id"] for d in docs] == ["médiathèque/b.md", "port.txt", "tram.txt"]
        assert docs[0]["url"] == "https://example.org/b" and docs[0]["n_chunks"] == 1
        assert r.document("médiathèque/b.md") == LIB and r.document("port.txt") == PORT
        assert r.document("absent.txt") is None
        assert (r.stats()["documents"], r.stats()["chunks"]) == (3, n)


def test_update_and_remove_are_seen_after_refresh(store):
    with writer(store) as w:
        for doc in (TRAM, LIB, PORT):
            w.put(doc)
        w.commit()
        r = open_reader(settings_for(store))
        old = {i: row.doc_id for i, row in all_rows(r).items()}
        new_tram = Document("tram.txt", "Le tramway de Lyon compte sept lignes.", "Tramway")
        w.put(new_tram)
        w.remove("médiathèque/b.md")
        w.remove("nope")
        assert w.commit() == 1
        assert w.known_sources() == {
            "tram.txt": (new_tram.hash, ""),
            "port.txt": (PORT.hash, PORT.source),
        }
    assert r.refresh() and not r.refresh()
    assert not r.chunks([i for i, doc_id in old.items() if doc_id != "port.txt"])
    left = all_rows(r)
    assert [row.text for row in left.values() if row.doc_id == "tram.txt"] == [new_tram.text]
    assert {row.doc_id for row in left.values()} == {"tram.txt", "port.txt"}
    assert r.lexical_search("médiathèque présidents", 5) == []
    hit = r.lexical_search("sept lignes", 1)[0][0]
    assert r.chunks([hit])[hit].text == new_tram.text
    assert r.term_stats(["mediathequ"])[1] == {"mediathequ": 0}
    r.close()


def test_another_model_reembeds_everything_even_the_vector_size(store):
    with writer(store) as w:
        for doc in (TRAM, LIB, PORT):
            w.put(doc)
        n = w.commit()
    r = open_reader(settings_for(store))
    small = HashEmbedder(dim=64, model_id="hash-64")
    with writer(store, embedder=small) as w:
        assert w.reembed_reason == "embed_model changed: hash-256 -> hash-64"
        assert w.reembed() == n and not w.reembed_reason
        assert w.counts() == (3, n) and w.known_sources()["tram.txt"] == (TRAM.hash, TRAM.source)
    assert r.refresh() and r.manifest["embed_model"] == "hash-64"
    [(cid, score), *_] = r.dense_search(small.embed([embed_text(TRAM.title, TRAM.text)]), 5)[0]
    assert score == pytest.approx(1.0, abs=1e-3) and r.chunks([cid])[cid].doc_id == "tram.txt"
    assert r.chunk_vectors([cid]).shape == (1, 64)
    r.close()


def test_one_build_at_a_time(store):
    with writer(store), pytest.raises(BuildLocked, match="another build"):
        writer(store)
    writer(store).close()  # released


def test_a_store_without_a_finished_build_says_what_to_run(store):
    with pytest.raises(Exception, match="ancre index build") as err:
        open_reader(settings_for(store))
    assert "\n" not in str(err.value)


# ---- end to end: build + ask + remove + rebuild, the same on both stores

QUESTION = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
TRAM_FILE = "tramway-ligne-c-bellerive.md"
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
    tram = cited.doc_id
    assert tram.endswith("/" + TRAM_FILE)
    assert cited.text[cited.sentence_start : cited.sentence_end] == cited.sentence
    with writer(store, emb) as w:
        texts = {d.doc_id: d.text for d in w.stored_documents()}
    for p in answer.passages:
        assert texts[p.doc_id][p.start : p.end] == p.text
    assert asked(store, OFF_TOPIC, emb).abstained
    only = asked(store, QUESTION, emb, filters=Filters(source="canicule"))
    assert only.passages and all("canicule" in p.doc_id for p in only.passages)
    dated = asked(store, QUESTION, emb, filters=Filters(date_from="2025-09"))
    assert dated.passages and all(p.date >= "2025-09" for p in dated.passages)

    removed, missing = remove([tram, "nope"], index_dir=store, embedder=emb)
    assert (removed, missing) == ([tram], ["nope"])
    gone = asked(store, QUESTION, emb)
    assert all(p.doc_id != tram for p in gone.passages)

    back = build([src], index_dir=store, embedder=emb)
    assert (back.added, back.unchanged) == (1, first.added - 1)
    assert asked(store, QUESTION, emb).citations[0].doc_id == tram

    (src / "canicule-record-port-joubert.txt").unlink()
    pruned = build([src], index_dir=store, embedder=emb, prune=True)
    assert pruned.removed == 1 and pruned.documents_total == first.documents_total - 1

    other = HashEmbedder(dim=128, model_id="hash-128")
    moved = build([src], index_dir=store, embedder=other)
    assert "embed_model changed" in moved.reembedded
    assert moved.chunks == moved.chunks_total == pruned.chunks_total
    assert asked(store, QUESTION, other).citations[0].doc_id == tram
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
        firsts = [[(p.doc_id, p.start) for p in a.passages[:1]] for a in (x, y)]
        assert firsts[0] == firsts[1], q  # none for 'Et en 2025 ?': asked without history


def test_a_renamed_file_or_folder_keeps_its_article_with_prune(store, tmp_path):
    """Review 4.7 on both stores: a file renamed and a sub-folder renamed, then a build with
    ``--prune``: each article stays, under its new name, found and cited by it, without
    being embedded again (Milvus, whose chunk keys derive from the id, writes it again with
    its stored vectors)."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "tram.txt").write_text("Tramway\n\n" + TRAM.text, encoding="utf-8")
    (src / "sub" / "b.md").write_text("# Bêta\n\n" + LIB.text, encoding="utf-8")
    (src / "c.txt").write_text("Gamma\n\nLe maire a été réélu avec 52 % des voix.", "utf-8")
    emb = HashEmbedder()
    assert build([src], index_dir=store, embedder=emb).added == 3
    (src / "tram.txt").rename(src / "tram2.txt")
    (src / "sub").rename(src / "sub2")
    embedded = emb.texts
    report = build([src], index_dir=store, embedder=emb, prune=True)
    assert (report.renamed, report.removed, report.documents_total) == (2, 0, 3)
    assert not report.skipped and emb.texts == embedded and report.chunks == 0
    with open_reader(settings_for(store)) as reader:
        files = sorted(d["doc_id"].split("/", 1)[-1] for d in reader.documents())
        assert files == ["c.txt", "sub2/b.md", "tram2.txt"]
        assert reader.size == report.chunks_total
        hit = reader.lexical_search("tramway Lyon", 1)[0][0]
        assert reader.chunks([hit])[hit].doc_id.endswith("/tram2.txt")
    again = build([src], index_dir=store, embedder=emb, prune=True)
    assert (again.unchanged, again.removed, again.renamed, again.chunks) == (3, 0, 0, 0)
