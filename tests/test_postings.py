"""In-memory BM25 postings (index/stores/directory/postings.py): the same ranking and scores
as SQLite FTS5, kept by the writer generation by generation. Fast: fake embedder, files under
tmp_path."""

import sqlite3

import numpy as np
import pytest

from ancre.index import IndexReader, IndexSettings, analyze, build, remove
from ancre.index.lexical import fts_query
from ancre.index.stores.directory.layout import postings_path
from ancre.index.stores.directory.postings import Postings
from conftest import HashEmbedder

WORDS = [
    "tramway",
    "ligne",
    "mairie",
    "conseil",
    "budget",
    "école",
    "piscine",
    "vélo",
    "marché",
    "musée",
    "stade",
    "gare",
    "quartier",
    "travaux",
    "habitants",
    "élection",
    "voix",
    "maire",
    "chantier",
    "pont",
    "rivière",
    "centre",
]


def bodies(n: int, seed: int = 0) -> list[str]:
    """Analysed chunk bodies of different lengths and word counts (few exact ties)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        size = int(rng.integers(3, 40))
        picks = rng.zipf(1.6, size) % len(WORDS)
        out.append(" ".join(analyze(" ".join(WORDS[i] for i in picks))))
    return out


def fts5(ids: list[int], texts: list[str], query: list[str], k: int) -> list[tuple[int, float]]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(body, tokenize = 'unicode61')")
    conn.executemany("INSERT INTO fts(rowid, body) VALUES (?,?)", zip(ids, texts, strict=True))
    rows = conn.execute(
        "SELECT rowid, -bm25(fts) AS s FROM fts WHERE fts MATCH ? ORDER BY s DESC, rowid LIMIT ?",
        (fts_query(query), k),
    ).fetchall()
    return [(int(i), float(s)) for i, s in rows]


QUERIES = ["Quand la ligne de tramway ouvrira-t-elle ?", "budget de la piscine", "pont", "zèbre"]


@pytest.mark.parametrize("question", QUERIES)
def test_the_same_ranking_and_scores_as_fts5(question):
    texts = bodies(400)
    ids = list(range(7, 7 + 3 * len(texts), 3))
    query = analyze(question)
    expected = fts5(ids, texts, query, 20)
    got = Postings.from_texts(ids, texts).search(query, 20)
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-9)
    assert bool(got) == (question != "zèbre")


def test_updates_equal_a_fresh_build_of_what_remains():
    texts = bodies(300, seed=1)
    ids = list(range(1, 301))
    before = Postings.from_texts(ids, texts)
    gone = set(range(1, 301, 4))
    extra = bodies(50, seed=2)
    after = before.updated(sorted(gone), range(301, 351), extra)
    kept = [(i, t) for i, t in zip(ids, texts, strict=True) if i not in gone]
    kept += list(zip(range(301, 351), extra, strict=True))
    fresh = Postings.from_texts([i for i, _ in kept], [t for _, t in kept])
    assert sorted(after.terms) == sorted(fresh.terms)
    assert all(after.doc_freq(t) == fresh.doc_freq(t) for t in fresh.terms)
    for question in QUERIES:
        query = analyze(question)
        got, want = after.search(query, 30), fresh.search(query, 30)
        assert [i for i, _ in got] == [i for i, _ in want]
        assert [x for _, x in got] == pytest.approx([x for _, x in want])
        assert not gone & {i for i, _ in after.search(query, 300)}
    emptied = after.updated(after.ids.tolist(), [], [])
    assert emptied.size == 0 and emptied.terms == [] and emptied.search(["pont"], 5) == []


def test_saved_postings_load_the_same(tmp_path):
    texts = bodies(100)
    postings = Postings.from_texts(range(100), texts)
    path = tmp_path / "lexical-3.npz"
    postings.save(path)
    loaded = Postings.load(path)
    assert loaded is not None and loaded.terms == postings.terms
    query = analyze("le tramway du centre")
    assert loaded.search(query, 10) == postings.search(query, 10)
    assert Postings.load(tmp_path / "lexical-4.npz") is None
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def corpus(root, n: int):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        topic = " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(i % 5 + 2))
        text = f"Article {i}\n\nLe conseil parle de {topic} (dossier {i})."
        (root / f"doc{i:02d}.txt").write_text(text, encoding="utf-8")
    return root


def test_readers_search_the_postings_of_their_generation(tmp_path):
    src = corpus(tmp_path / "src", 40)
    s = IndexSettings(index_dir=str(tmp_path / "idx"))
    fake = HashEmbedder()
    build([src], settings=s, embedder=fake)
    question = "le budget de la piscine et du stade"
    with IndexReader(s.index_dir) as reader:
        assert reader.postings is not None and reader.postings.size == reader.size == 40
        fast = reader.lexical_search(question, 10)
        stats = reader.term_stats(analyze(question))
    path = postings_path(tmp_path / "idx", 1)
    path.unlink()  # as an index written before postings existed
    with IndexReader(s.index_dir) as reader:
        assert reader.postings is None
        slow = reader.lexical_search(question, 10)
        idf, df = reader.term_stats(analyze(question))
        assert idf == pytest.approx(stats[0]) and df == stats[1]
    assert [i for i, _ in fast] == [i for i, _ in slow]
    assert [s for _, s in fast] == pytest.approx([s for _, s in slow], rel=1e-5)

    embedded = fake.texts
    report = build([src], settings=s, embedder=fake)  # nothing changed: writes them again
    assert report.unchanged == 40 and fake.texts == embedded
    with IndexReader(s.index_dir) as reader:
        assert reader.generation == 2 and reader.postings is not None
        assert reader.lexical_search(question, 10) == fast
    build([src], settings=s, embedder=fake)
    assert IndexReader(s.index_dir).generation == 2  # and then nothing to do

    (src / "doc03.txt").write_text("Autre\n\nLa piscine olympique rouvre.", encoding="utf-8")
    build([src], settings=s, embedder=fake)
    remove([str(src / "doc04.txt")], settings=s, embedder=fake)
    with IndexReader(s.index_dir) as reader:
        assert reader.generation == 4 and postings_path(tmp_path / "idx", 4).exists()
        assert not postings_path(tmp_path / "idx", 3).exists()
        assert reader.postings is not None and reader.postings.size == reader.size == 39
        best = reader.lexical_search("piscine olympique", 3)[0][0]
        assert "olympique" in reader.chunks([best])[best].text


def test_a_new_model_keeps_the_postings(tmp_path):
    src = corpus(tmp_path / "src", 12)
    s = IndexSettings(index_dir=str(tmp_path / "idx"))
    build([src], settings=s, embedder=HashEmbedder())
    with IndexReader(s.index_dir) as reader:
        before = reader.lexical_search("budget du stade", 5)
    report = build([src], settings=s, embedder=HashEmbedder(dim=64, model_id="hash-64"))
    assert "embed_model changed" in report.reembedded
    with IndexReader(s.index_dir) as reader:
        assert reader.generation == 2 and reader.postings is not None
        assert reader.lexical_search("budget du stade", 5) == before


def test_chunks_without_words_are_held_but_never_found():
    postings = Postings.from_texts([1, 2], ["", ""])  # only stop words, say
    assert postings.size == 2 and postings.search(analyze("le pont"), 5) == []
    postings = postings.updated([1], [3], [" ".join(analyze("le pont du pont"))])
    assert [i for i, _ in postings.search(analyze("pont"), 5)] == [3]
    assert postings.search(analyze("pont"), 0) == []


@pytest.mark.parametrize("question", ["musée de Bennington", "bennington_museum", "le musée"])
def test_underscored_tokens_count_as_fts5_counts_them(question):
    texts = bodies(200, seed=3)
    texts[::7] = [f"{t} bennington_museum musee" for t in texts[::7]]
    texts[::11] = [f"{t} bennington" for t in texts[::11]]
    ids = list(range(1, len(texts) + 1))
    query = analyze(question)
    expected = fts5(ids, texts, query, 40)
    got = Postings.from_texts(ids, texts).search(query, 40)
    assert expected and [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-9)
