"""End-to-end index builds with the real default embedding model."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from ancre import index
from ancre.index import BuildLocked, IndexReader, IndexSettings, Writer, build, load_embedder
from ancre.index.loaders import root_key
from conftest import HashEmbedder

FAKE = HashEmbedder()


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def small_corpus(root):
    write(root / "a.txt", "Alpha\n\nLe tramway de Lyon a ouvert en 2001. Il compte cinq lignes.")
    write(root / "b.md", "# Bêta\ndate: 2024-05-01\n\nLa médiathèque a coûté 12 millions d'euros.")
    write(root / "sub" / "c.txt", "Gamma\n\nLe maire a été réélu avec 52 % des voix.")
    return root


@pytest.mark.slow
def test_sample_index_manifest_and_search(sample_index):
    reader = IndexReader(sample_index)
    stats = reader.stats()
    assert stats["documents"] == 14 and stats["chunks"] == reader.size > 15
    assert stats["embed_model"] == "all-MiniLM-L6-v2" and stats["embed_dim"] == 384
    assert stats["chunker"]["chunk_tokens"] == IndexSettings().chunk_tokens
    manifest = json.loads((reader.index_dir / "manifest.json").read_text())
    assert manifest["generation"] == stats["generation"]
    hits = reader.lexical_search("ligne C tramway Bellerive ouverture", 3)
    top = reader.chunks([hits[0][0]])[hits[0][0]]
    assert top.doc_id.endswith("/tramway-ligne-c-bellerive.md")
    doc_text = next(d for d in reader.documents() if d["doc_id"] == top.doc_id)
    assert doc_text["n_chunks"] >= 1


@pytest.mark.slow
def test_chunks_fit_the_encoder_and_offsets_point_into_the_document(sample_index):
    reader = IndexReader(sample_index)
    embedder = load_embedder()
    rows = reader.chunks(list(range(1, reader.size + 1)))
    texts = dict(reader._conn.execute("SELECT doc_id, text FROM documents"))
    for row in rows.values():
        assert embedder.count_tokens(row.text) <= IndexSettings().chunk_tokens
        assert texts[row.doc_id][row.start : row.end] == row.text


def test_incremental_rebuild_update_duplicate_prune(tmp_path):
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    first = build([src], settings=s, embedder=FAKE)
    assert (first.added, first.unchanged, first.chunks) == (3, 0, 3)
    again = build([src], settings=s, embedder=FAKE)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    write(src / "a.txt", "Alpha\n\nLe tramway de Lyon a ouvert en 2001. Il compte sept lignes.")
    write(src / "copy.txt", (src / "sub" / "c.txt").read_text(encoding="utf-8"))
    third = build([src], settings=s, embedder=FAKE)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 2)
    assert any("exact duplicate" in sk.reason for sk in third.skipped)
    reader = IndexReader(s.index_dir)
    assert reader.size == 3
    hit = reader.lexical_search("sept lignes", 1)[0][0]
    assert "sept" in reader.chunks([hit])[hit].text
    (src / "b.md").unlink()
    kept = build([src], settings=s, embedder=FAKE)
    assert kept.removed == 0 and kept.documents_total == 3 and kept.gone == 1  # said
    pruned = build([src], settings=s, prune=True, embedder=FAKE)
    assert pruned.removed == 1 and pruned.documents_total == 2 and pruned.gone == 0
    assert reader.refresh() and reader.size == 2


def test_a_renamed_file_or_folder_takes_over_its_document_with_prune(tmp_path):
    """Not skipped as a duplicate of the document the same build then prunes."""
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    build([src], settings=s, embedder=FAKE)
    (src / "a.txt").rename(src / "a2.txt")
    (src / "sub").rename(src / "sub2")
    embedder = HashEmbedder()
    report = build([src], settings=s, prune=True, embedder=embedder)
    assert (report.renamed, report.removed, report.added, report.chunks) == (2, 0, 0, 0)
    assert embedder.texts == 0 and not report.skipped
    reader = IndexReader(s.index_dir)
    ids = sorted(d["doc_id"].rsplit("/", 2)[-2:][-1] for d in reader.documents())
    assert ids == ["a2.txt", "b.md", "c.txt"] and reader.size == 3
    sources = {d["source"] for d in reader.documents()}
    assert str((src / "sub2" / "c.txt").resolve()) in sources
    hit = reader.lexical_search("tramway Lyon", 1)[0][0]
    assert reader.chunks([hit])[hit].doc_id.endswith("/a2.txt")
    again = build([src], settings=s, prune=True, embedder=embedder)
    assert (again.unchanged, again.removed, again.renamed) == (3, 0, 0)


def test_the_bundled_samples_and_a_copy_of_them_are_one_set_of_documents(tmp_path):
    """``ancre chat`` indexes the installed samples; a checkout's copy of them then takes
    them over (its own ids and sources, nothing embedded), instead of being skipped."""
    bundled = small_corpus(tmp_path / "site-packages" / "articles")
    write(bundled / "d.jsonl", json.dumps({"id": "depeche-1", "text": "Le pont a rouvert."}))
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    build([bundled], settings=s, embedder=FAKE, stand_ins=[bundled])
    checkout = tmp_path / "checkout" / "articles"
    checkout.parent.mkdir()
    shutil.copytree(bundled, checkout)
    embedder = HashEmbedder()
    report = build([checkout], settings=s, embedder=embedder, stand_ins=[bundled])
    assert (report.added, report.unchanged, report.adopted, report.skipped) == (0, 4, 4, [])
    assert (report.renamed, embedder.texts) == (0, 0)
    reader = IndexReader(s.index_dir)
    sources = {d["source"] for d in reader.documents()}
    assert sources == {str(p.resolve()) for p in checkout.rglob("*.*")}
    key = root_key(checkout)
    assert sorted(d["doc_id"] for d in reader.documents()) == [
        f"{key}/a.txt",
        f"{key}/b.md",
        f"{key}/sub/c.txt",
        "depeche-1",
    ]
    hit = reader.lexical_search("tramway Lyon", 1)[0][0]
    assert reader.chunks([hit])[hit].doc_id == f"{key}/a.txt"
    again = build([bundled], settings=s, embedder=FAKE, stand_ins=[bundled])
    assert (again.added, again.adopted, again.unchanged, len(again.skipped)) == (0, 0, 1, 3)
    assert {d["source"] for d in IndexReader(s.index_dir).documents()} == sources


def test_a_file_elsewhere_does_not_take_over_an_ordinary_document(tmp_path):
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    build([src], settings=s, embedder=FAKE, stand_ins=[])
    write(tmp_path / "other" / "a.txt", (src / "a.txt").read_text(encoding="utf-8"))
    report = build([tmp_path / "other"], settings=s, embedder=FAKE, stand_ins=[])
    assert report.adopted == 0 and "exact duplicate" in report.skipped[0].reason


def test_duplicates_within_one_build_are_indexed_once(tmp_path):
    src = small_corpus(tmp_path / "src")
    write(src / "twin.txt", (src / "a.txt").read_text(encoding="utf-8"))
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    report = build([src, src / "sub", src], settings=s, embedder=FAKE)
    assert (report.added, report.documents_total) == (3, 3)
    assert [sk.reason for sk in report.skipped] == [
        f"exact duplicate of {(src / 'a.txt').resolve()} (same build)"
    ]


class SlowEmbedder(HashEmbedder):
    def embed(self, texts):
        time.sleep(0.02 * len(texts))
        return super().embed(texts)


def test_a_small_build_still_commits_every_commit_seconds(tmp_path):
    """Embedding must not wait for a full window: a kill would lose everything."""
    for n in range(150):
        write(tmp_path / "src" / f"{n:03}.txt", f"Article {n}\n\nLa commune numéro {n} vote.")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"), commit_seconds=0.5)
    report = build([tmp_path / "src"], settings=s, embedder=SlowEmbedder())
    assert report.added == 150 and report.commits >= 4


def test_a_folder_that_does_not_exist_is_an_error_and_creates_nothing(tmp_path):
    idx = tmp_path / "idx"
    with pytest.raises(FileNotFoundError, match=r"nothing to index.*no such file or folder"):
        build([tmp_path / "artciles"], index_dir=idx, embedder=FAKE)
    assert not idx.exists()
    write(tmp_path / "a.txt", "Alpha\n\nUn texte.")
    some = build([tmp_path / "a.txt", tmp_path / "artciles"], index_dir=idx, embedder=FAKE)
    assert some.added == 1 and [sk.reason for sk in some.skipped] == ["no such file or folder"]


def test_remove_and_refresh(tmp_path):
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    build([src], settings=s, embedder=FAKE)
    reader = IndexReader(s.index_dir)
    a_id = next(d["doc_id"] for d in reader.documents() if d["doc_id"].endswith("/a.txt"))
    removed, missing = index.remove([a_id, "nope"], settings=s, embedder=FAKE)
    assert removed == [a_id] and missing == ["nope"]
    assert reader.size == 3  # the old generation until refreshed
    assert reader.refresh() and reader.size == 2
    assert not reader.lexical_search("tramway Lyon", 5)


def test_model_or_chunker_change_reembeds(tmp_path):
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    build([src], settings=s, embedder=FAKE)
    s2 = IndexSettings.from_env(index_dir=s.index_dir, chunk_tokens=120, chunk_overlap=16)
    report = build([src], settings=s2, embedder=FAKE)
    assert "chunker changed" in report.reembedded
    assert report.chunks == 3 and report.unchanged == 3
    assert IndexReader(s.index_dir).manifest["chunker"]["chunk_tokens"] == 120
    write(src / "new.txt", "Nouveau\n\nUn document ajouté avec le nouveau modèle.")
    other = HashEmbedder(dim=128, model_id="hash-128")
    report = build([src], settings=s2, embedder=other)  # a model change, and a new document
    assert "embed_model changed" in report.reembedded and report.added == 1
    assert other.texts == report.chunks == 4  # the 3 chunks as they were, and the new one
    reader = IndexReader(s.index_dir)
    assert reader.manifest["embed_model"] == "hash-128" and reader.size == 4
    assert reader.manifest["embed_dim"] == 128


def test_hnsw_index_supports_removal(tmp_path):
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"), vector_index="hnsw")
    build([src], settings=s, embedder=FAKE)
    removed, _ = index.remove([str(src / "a.txt")], settings=s, embedder=FAKE)  # by file
    assert len(removed) == 1 and removed[0].endswith("/a.txt")
    reader = IndexReader(s.index_dir)
    assert reader.size == 2 and reader.manifest["vector_index"] == "hnsw"


def test_second_writer_is_refused(tmp_path):
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    with Writer(s, embedder=FAKE), pytest.raises(BuildLocked, match="another build"):
        build([small_corpus(tmp_path / "src")], settings=s, embedder=FAKE)


def test_bad_input_keeps_the_index(tmp_path):
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    build([src], settings=s, embedder=FAKE)
    (src / "bad.jsonl").write_text('{"text": "ok"}\n{oops\n', encoding="utf-8")
    (src / "empty.md").write_text("", encoding="utf-8")
    report = build([src], settings=s, embedder=FAKE)
    assert len(report.skipped) == 2 and report.added == 1 and report.unchanged == 3
    assert {str(x).split(": ", 1)[1] for x in report.skipped} >= {"empty file"}
    assert IndexReader(s.index_dir).stats()["documents"] == 4


def test_missing_index_says_what_to_run(tmp_path):
    with pytest.raises(index.StoreError, match="ancre index build"):
        IndexReader(tmp_path / "nothing")


@pytest.mark.slow
def test_killed_build_keeps_every_committed_batch_with_the_real_model(tmp_path):
    """kill -9 in the middle of a real build: the index stays readable and consistent, keeps
    the batches committed before the kill, and the next build embeds only the rest."""
    src = small_corpus(tmp_path / "src")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    build([src], settings=s)
    big = tmp_path / "big"
    for i in range(150):
        # each article its own (the same text 150 times would be one story: near-copies)
        write(
            big / f"{i}.txt",
            f"Article {i}\n\n" + f"Une phrase assez longue sur le sujet {i}. " * 80,
        )
    code = (
        "import sys; from ancre.index import IndexSettings, build; "
        f"build([{str(src)!r}, {str(big)!r}], "
        f"settings=IndexSettings.from_env(index_dir={s.index_dir!r}, commit_docs=10))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    store = os.path.join(s.index_dir, "store.sqlite")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # a batch or two, then kill
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            if conn.execute("SELECT count(*) FROM documents").fetchone()[0] >= 23:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader = IndexReader(s.index_dir)
    stats = reader.stats()
    assert 23 <= stats["documents"] < 153, "killed before the second batch or after the end"
    assert reader.size == stats["chunks"]
    resumed = build([src, big], settings=s)
    assert resumed.added == 153 - stats["documents"] and resumed.documents_total == 153
