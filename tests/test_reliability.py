"""Nothing lost, nothing leaked (issue 12): the bad-input zoo, document identity, prune,
batch commits and interruptions, leftovers, messages, privacy.

Builds use the hashing embedder from conftest (with a per-text delay where a build must be
slow enough to interrupt); the tests marked ``slow`` use the real models."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from zoo import make_zoo

from ancre import index
from ancre.index import IndexReader, IndexSettings, Writer, build, printable
from ancre.index.loaders import Document, source_of
from ancre.samples import ARTICLES
from ancre.ui.cli import main
from conftest import HashEmbedder

FAKE = HashEmbedder()
TESTS = Path(__file__).resolve().parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def settings(tmp_path: Path, **overrides) -> IndexSettings:
    return IndexSettings.from_env(index_dir=str(tmp_path / "idx"), **overrides)


def rows(index_dir: str | Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(f"file:{Path(index_dir) / 'store.sqlite'}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def documents(index_dir) -> dict[str, tuple[str, str, str]]:
    """doc_id -> (title, text, source)."""
    found = rows(index_dir, "SELECT doc_id, title, text, source FROM documents")
    return {r[0]: r[1:] for r in found}


def consistent(index_dir) -> int:
    """The tables and the vectors agree; returns the number of documents."""
    (docs,), (chunks,), (fts,) = (
        rows(index_dir, "SELECT count(*) FROM documents")[0],
        rows(index_dir, "SELECT count(*) FROM chunks")[0],
        rows(index_dir, "SELECT count(*) FROM fts")[0],
    )
    orphans = rows(
        index_dir, "SELECT count(*) FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents)"
    )[0][0]
    fts_ids = sorted(r[0] for r in rows(index_dir, "SELECT rowid FROM fts"))
    vocab = dict(rows(index_dir, "SELECT term, doc FROM fts_vocab"))
    with IndexReader(index_dir) as reader:
        assert reader.size == chunks == fts and orphans == 0, (reader.size, chunks, fts, orphans)
        postings = reader.postings  # the BM25 postings of this generation hold the same rows
        assert postings is not None and sorted(postings.ids.tolist()) == fts_ids
        assert {t: postings.doc_freq(t) for t in vocab} == vocab
        assert set(vocab) <= set(postings.terms)
    return docs


# ---------------------------------------------------------------- the bad-input zoo


def check_zoo(zoo: Path, cases, report, index_dir) -> list[str]:
    """Each case indexed correctly or reported once with a readable reason: the failures."""
    docs = documents(index_dir)
    failures = []
    for case in cases:
        path = zoo / case.name
        if case.reason:
            lines = [s for s in report.skipped if s.path == str(path) and case.reason in s.reason]
            if len(lines) != case.count or not all(str(s).isprintable() for s in lines):
                failures.append(f"{case.name!r}: reported {[str(s) for s in lines]}")
            continue
        mine = [d for d in docs.values() if d[2] == source_of(path)]
        good = [d for d in mine if case.text in d[1] and d[0].startswith(case.title)]
        warned = any(w.path == str(path) for w in report.warnings)
        if len(mine) != case.count or not good or warned != case.warned:
            failures.append(f"{case.name!r}: indexed {mine}, warned {warned}")
    expected_skips = sum(c.count for c in cases if c.reason)
    if len(report.skipped) != expected_skips:
        failures.append(f"{len(report.skipped)} skips for {expected_skips} expected")
    return failures


def test_bad_input_zoo_is_indexed_or_reported_once(tmp_path):
    zoo = tmp_path / "zoo"
    cases = make_zoo(zoo)
    assert len(cases) >= 25
    s = settings(tmp_path, max_file_mb=1.0)
    report = build([zoo], settings=s, embedder=FAKE)
    failures = check_zoo(zoo, cases, report, s.index_dir)
    ok = len(cases) - len(failures)
    print(f"zoo: {ok} of {len(cases)} cases indexed correctly or reported once")
    assert not failures, failures
    # every message is one printable line, and every document id too
    assert all(str(x).isprintable() for x in report.skipped + report.warnings)
    assert all(printable(d) == d for d in documents(s.index_dir))
    consistent(s.index_dir)
    again = build([zoo], settings=s, embedder=FAKE)  # nothing changes, the same reports
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert sorted(map(str, again.skipped)) == sorted(map(str, report.skipped))


@pytest.mark.slow
def test_cli_reports_every_skip_once_without_library_noise(tmp_path, capsys, monkeypatch):
    """D8: one stderr line per skip (no second WARNING line, no pypdf, transformers or
    progress-bar output), names escaped; ``index list`` one line per document (D7)."""
    zoo = tmp_path / "zoo"
    cases = make_zoo(zoo)
    monkeypatch.setenv("ANCRE_MAX_FILE_MB", "1")
    idx = str(tmp_path / "idx")
    assert main(["index", "build", str(zoo), "--index-dir", idx]) == 3
    out, err = capsys.readouterr()
    lines = err.splitlines()
    skips = [line for line in lines if line.startswith("skipped ")]
    warnings = [line for line in lines if line.startswith("warning ")]
    assert len(skips) == sum(c.count for c in cases if c.reason)
    assert len(warnings) == sum(c.warned for c in cases)
    assert len(lines) == len(skips) + len(warnings), [x for x in lines if x not in skips]
    assert "skipped " + printable(str(zoo / "bad\nname.txt")) + ": empty file" in skips
    assert len(out.splitlines()) == 2
    assert main(["index", "list", "--index-dir", idx]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(documents(idx))


# ---------------------------------------------------------------- identity


def test_same_path_in_two_folders_never_collides(tmp_path):
    """D1: a/article.txt and b/article.txt built one after the other are two documents."""
    a = write(tmp_path / "pA" / "article.txt", "Article A\n\nLe pont de Saint-Ybars est fermé.")
    b = write(tmp_path / "pB" / "article.txt", "Article B\n\nLa foire de Gaillac attire 20 000.")
    s = settings(tmp_path)
    first = build([a.parent], settings=s, embedder=FAKE)
    second = build([b.parent], settings=s, embedder=FAKE)
    assert (first.added, second.added, second.updated) == (1, 1, 0)
    docs = documents(s.index_dir)
    assert sorted(d[0] for d in docs.values()) == ["Article A", "Article B"]
    ids = sorted(docs)
    assert ids[0].startswith("pA@") and ids[1].startswith("pB@") and ids[0] != ids[1]
    # stable: the same folders built again, by a file or by another spelling of the folder
    again = build([b, str(a.parent) + "/../pA"], settings=s, embedder=FAKE)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert sorted(documents(s.index_dir)) == ids


def test_an_id_used_by_another_file_is_never_replaced(tmp_path):
    """Records carry their own ids: a second file with the same id is reported, not taken
    for an update, while the first file is there; editing the first file still updates."""
    feed = write(tmp_path / "a" / "feed.jsonl", json.dumps({"id": "r1", "text": "Le vrai."}))
    other = write(tmp_path / "b" / "feed.jsonl", json.dumps({"id": "r1", "text": "Un faux."}))
    s = settings(tmp_path)
    build([feed], settings=s, embedder=FAKE)
    report = build([other], settings=s, embedder=FAKE)
    assert report.updated == 0 and "already used by" in report.skipped[0].reason
    assert documents(s.index_dir)["r1"][1] == "Le vrai."
    write(feed, json.dumps({"id": "r1", "text": "Le vrai, corrigé."}))
    assert build([feed], settings=s, embedder=FAKE).updated == 1
    # replacing on purpose: remove, then build the other file (no upload needed)
    removed, _ = index.remove(["r1"], settings=s, embedder=FAKE)
    assert removed == ["r1"] and build([other], settings=s, embedder=FAKE).added == 1
    assert documents(s.index_dir)["r1"][1] == "Un faux."
    # once the first file is gone, its id may be taken over
    other.unlink()
    write(tmp_path / "c" / "feed.jsonl", json.dumps({"id": "r1", "text": "Troisième."}))
    assert build([tmp_path / "c"], settings=s, embedder=FAKE).updated == 1


def test_prune_removes_only_documents_whose_file_is_gone(tmp_path):
    """D4: a file that fails to load keeps its documents; a deleted file loses them."""
    src = tmp_path / "pr"
    lavaur = write(src / "lavaur.txt", "Marché de Lavaur\n\nLe marché accueille 80 producteurs.")
    r1 = json.dumps({"id": "r1", "title": "Digue", "text": "La digue sera renforcée."})
    r2 = json.dumps({"id": "r2", "title": "Gare", "text": "La gare rouvre son guichet."})
    recs = write(src / "recs.jsonl", f"{r1}\n{r2}\n")
    gone = write(src / "sub" / "gone.md", "# Parti\n\nCe fichier sera supprimé.")
    locked = write(src / "locked" / "inner.txt", "Verrou\n\nDans un dossier fermé plus tard.")
    s = settings(tmp_path)
    assert build([src], settings=s, embedder=FAKE).added == 5
    lavaur.write_bytes(b"\x7fELF\x00\x00\x01")  # now unreadable as text
    write(recs, f'{r1}\n{{"id": "r2", "title": "Gare", "text": BROKEN\n')
    gone.unlink()
    report = build([src], settings=s, embedder=FAKE, prune=True)
    kept = set(documents(s.index_dir))
    assert report.removed == 1 and len(kept) == 4 and "r2" in kept
    assert not any(d.endswith("/sub/gone.md") for d in kept)
    # a record taken out of a file read in full is pruned; another SOURCE's documents stay
    write(recs, f"{r1}\n")
    elsewhere = write(tmp_path / "other" / "x.txt", "Ailleurs\n\nUn autre dossier.")
    build([elsewhere], settings=s, embedder=FAKE)
    report = build([src], settings=s, embedder=FAKE, prune=True)
    assert report.removed == 1 and "r2" not in documents(s.index_dir)
    assert any(d.endswith("/x.txt") for d in documents(s.index_dir))
    assert locked.exists()


def test_format_1_index_is_rekeyed_without_losing_or_reembedding(tmp_path, monkeypatch):
    """An index written before ids named their folder (format 1: bare relative paths,
    sources as given) reads as before, and a build gives each document its new id without
    embedding it again; a document whose file is elsewhere keeps its old id."""
    monkeypatch.chdir(tmp_path)  # where the format-1 build ran: its sources are relative
    src = tmp_path / "articles"
    shutil.copytree(ARTICLES, src)
    s = settings(tmp_path)
    build([src], settings=s, embedder=FAKE)
    n = consistent(s.index_dir)
    conn = sqlite3.connect(Path(s.index_dir) / "store.sqlite")
    for doc_id, source in conn.execute("SELECT doc_id, source FROM documents").fetchall():
        old = doc_id.split("/", 1)[1] if "@" in doc_id.split("/")[0] else doc_id
        rel = os.path.relpath(source, tmp_path)  # as format 1 stored it: relative, as given
        conn.execute("UPDATE documents SET doc_id=?, source=? WHERE doc_id=?", (old, rel, doc_id))
        conn.execute("UPDATE chunks SET doc_id=? WHERE doc_id=?", (old, doc_id))
    manifest = json.loads(conn.execute("SELECT value FROM meta").fetchone()[0])
    manifest["format_version"] = 1
    conn.execute("UPDATE meta SET value=? WHERE key='manifest'", (json.dumps(manifest),))
    conn.commit()
    conn.close()
    assert IndexReader(s.index_dir).stats()["format_version"] == 1  # still readable
    orphan = src / "vendanges-2025-cotes-de-bellerive.md"
    moved = tmp_path / "moved" / orphan.name
    moved.parent.mkdir()
    orphan.rename(moved)
    write(src / "canicule-record-port-joubert.txt", "Canicule\n\nUn texte tout neuf.")
    write(src / "zz-copie.txt", "Canicule\n\nUn texte tout neuf.")  # a copy of the changed one
    report = build([src], settings=s, embedder=FAKE)
    assert report.rekeyed == n - 4 and report.updated == 1 and report.added == 0
    assert any("zz-copie.txt" in k.path and "duplicate" in k.reason for k in report.skipped)
    assert report.chunks == 1  # only the changed document was embedded
    docs = documents(s.index_dir)
    assert len(docs) == n == consistent(s.index_dir)
    assert orphan.name in docs  # its file is not under SOURCE: kept under its old id
    assert sum("@" in d for d in docs) == n - 1 - 2  # jsonl records keep their own ids
    assert IndexReader(s.index_dir).manifest["format_version"] == 2
    assert build([src], settings=s, embedder=FAKE).unchanged == n - 1


# ---------------------------------------------------------------- batches, kills, Ctrl-C


def corpus(root: Path, n: int) -> Path:
    for i in range(n):
        write(root / f"{i:03d}.txt", f"Article {i}\n\nLe conseil {i} a voté. " * 3)
    return root


def test_build_commits_in_batches_by_count_and_by_time(tmp_path):
    """D5: work is committed as it is embedded, not in one final commit."""
    src = corpus(tmp_path / "src", 23)
    s = settings(tmp_path, commit_docs=5)
    report = build([src], settings=s, embedder=FAKE)
    assert report.documents_total == 23 and report.commits == 5
    assert IndexReader(s.index_dir).manifest["generation"] == 5  # one per batch
    # long documents: embedding starts while files are still read, so the clock is checked
    long = tmp_path / "long"
    for i in range(25):
        write(long / f"{i}.txt", f"Long {i}\n\n" + f"Le conseil {i} a voté le budget. " * 1500)
    s2 = IndexSettings.from_env(
        index_dir=str(tmp_path / "idx2"), commit_docs=10_000, commit_seconds=0.2
    )
    build([long], settings=s2, embedder=HashEmbedder(delay=0.0005))
    assert IndexReader(s2.index_dir).manifest["generation"] >= 2
    assert consistent(s2.index_dir) == 25


BUILD_SCRIPT = """
import signal, sys
sys.path.insert(0, {tests!r})
signal.signal(signal.SIGINT, signal.default_int_handler)
from conftest import HashEmbedder
from ancre.index import IndexSettings, build
s = IndexSettings.from_env(index_dir={index!r}, commit_docs={every}, commit_seconds=1000)
try:
    r = build([{src!r}], settings=s, embedder=HashEmbedder(model_id={model!r}, delay={delay}))
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
print(r.added, r.commits)
"""


def start_build(
    tmp_path: Path, src: Path, every: int, delay: float, model: str = FAKE.model_id
) -> subprocess.Popen:
    script = tmp_path / "build.py"
    values = dict(index=str(tmp_path / "idx"), src=str(src), every=every, delay=delay)
    script.write_text(BUILD_SCRIPT.format(tests=str(TESTS), model=model, **values))
    return subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def committed_so_far(index_dir: Path) -> int:
    try:
        return rows(index_dir, "SELECT count(*) FROM documents")[0][0]
    except sqlite3.Error:
        return 0


def watch_then(proc: subprocess.Popen, index_dir: Path, seconds: float) -> int:
    """Wait for a first committed batch, then ``seconds`` more; the most documents seen."""
    seen, deadline = 0, time.monotonic() + 60
    while seen == 0 and time.monotonic() < deadline and proc.poll() is None:
        seen = committed_so_far(index_dir)
        time.sleep(0.01)
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        seen = max(seen, committed_so_far(index_dir))
        time.sleep(0.01)
    return seen


N = 300
"""Documents of the interrupted builds: with the delays below, several seconds of work."""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_build_killed_at_a_random_moment_keeps_every_committed_batch(tmp_path, seed):
    src = corpus(tmp_path / "src", N)
    proc = start_build(tmp_path, src, every=8, delay=0.01)
    seen = watch_then(proc, tmp_path / "idx", random.Random(seed).uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = consistent(tmp_path / "idx")
    assert 0 < seen <= after < N, (seen, after)
    resumed = build([src], index_dir=tmp_path / "idx", embedder=FAKE)
    assert (resumed.unchanged, resumed.added) == (after, N - after)  # goes on, not over
    assert consistent(tmp_path / "idx") == N


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_ctrl_c_at_a_random_moment_is_one_word_and_keeps_every_committed_batch(tmp_path, seed):
    src = corpus(tmp_path / "src", N)
    proc = start_build(tmp_path, src, every=4, delay=0.005)
    seen = watch_then(proc, tmp_path / "idx", random.Random(seed).uniform(0.0, 1.0))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert not out, "the build finished before the interruption"
    assert proc.returncode == 130 and err == "interrupted\n", err
    assert 0 < seen <= consistent(tmp_path / "idx") < N


@pytest.mark.parametrize("seed", [8, 9])
def test_a_model_change_reembeds_resumably_while_readers_keep_the_old_model(tmp_path, seed):
    """Re-embedding with another model is saved as it goes; killed, the index still answers
    with the old model, and the next build embeds only the chunks not yet done."""
    import faiss

    src = corpus(tmp_path / "src", N)
    build([src], index_dir=tmp_path / "idx", embedder=FAKE)
    total = consistent(tmp_path / "idx")
    proc = start_build(tmp_path, src, every=20, delay=0.01, model="hash-b")
    staged = tmp_path / "idx" / "staged-vectors.faiss"
    deadline = time.monotonic() + 60
    while not staged.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(random.Random(seed).uniform(0.0, 1.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with IndexReader(tmp_path / "idx") as reader:
        assert reader.manifest["embed_model"] == FAKE.model_id  # still the old model
    assert consistent(tmp_path / "idx") == total
    done = faiss.read_index(str(staged)).ntotal
    assert 0 < done < total
    new = HashEmbedder(model_id="hash-b")
    resumed = build([src], index_dir=tmp_path / "idx", embedder=new)
    assert "embed_model changed" in resumed.reembedded and resumed.unchanged == total
    assert new.texts == resumed.chunks == total - done  # went on from the saved chunks
    with IndexReader(tmp_path / "idx") as reader:
        assert reader.manifest["embed_model"] == "hash-b"
    assert consistent(tmp_path / "idx") == total and not staged.exists()


def test_a_staged_reembedding_is_dropped_when_the_settings_go_back(tmp_path):
    src = corpus(tmp_path / "src", 200)
    build([src], index_dir=tmp_path / "idx", embedder=FAKE)
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"), commit_docs=10)
    with Writer(s, embedder=HashEmbedder(model_id="hash-b")) as w:
        w.embedder.embed = interrupt_after(2, w.embedder.embed)
        with pytest.raises(KeyboardInterrupt):
            w.reembed()
    staged = tmp_path / "idx" / "staged-vectors.faiss"
    assert staged.exists()
    again = build([src], index_dir=tmp_path / "idx", embedder=FAKE)  # the old model again
    assert not again.reembedded and again.unchanged == 200 and not staged.exists()
    assert consistent(tmp_path / "idx") == 200


def interrupt_after(calls: int, embed):
    count = [0]

    def wrapped(texts):
        count[0] += 1
        if count[0] > calls:
            raise KeyboardInterrupt
        return embed(texts)

    return wrapped


class FailAround:
    """A connection that misbehaves around COMMIT, as a Ctrl-C or a kill would."""

    def __init__(self, conn, before=None, after=None):
        self._conn, self.before, self.after = conn, before, after

    def execute(self, sql, *args):
        if sql == "COMMIT" and self.before:
            self.before()
        result = self._conn.execute(sql, *args)
        if sql == "COMMIT" and self.after:
            self.after()
        return result

    def __getattr__(self, name):
        return getattr(self._conn, name)


def interrupt():
    raise KeyboardInterrupt


def doc(n: int) -> Document:
    return Document(f"d{n}", f"Le texte numéro {n}.", f"Titre {n}", source="/nowhere")


def test_interrupt_right_after_commit_is_a_clean_interrupt(tmp_path):
    """D11: a KeyboardInterrupt just after COMMIT used to end in 'cannot rollback'."""
    s = settings(tmp_path)
    with Writer(s, embedder=FAKE) as w:
        w.put(doc(1))
        w.commit()
        w.conn = FailAround(w.conn, after=interrupt)
        w.put(doc(2))
        with pytest.raises(KeyboardInterrupt):
            w.commit()
    assert consistent(s.index_dir) == 2  # the batch was in
    assert sorted(p.name for p in Path(s.index_dir).glob("vectors-*")) == ["vectors-2.faiss"]


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt, even when pytest was started with it ignored (in the
    background, under nohup)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_during_a_commit_waits_for_it(tmp_path, ctrl_c_raises):
    s = settings(tmp_path)
    with Writer(s, embedder=FAKE) as w:
        w.conn = FailAround(w.conn, before=lambda: os.kill(os.getpid(), signal.SIGINT))
        w.put(doc(1))
        with pytest.raises(KeyboardInterrupt):
            w.commit()
    assert consistent(s.index_dir) == 1


def test_leftovers_are_cleaned_when_the_next_build_has_nothing_to_do(tmp_path):
    """D12: a kill after COMMIT could leave the previous vectors file (and .tmp files)."""
    src = corpus(tmp_path / "src", 3)
    s = settings(tmp_path)
    build([src], settings=s, embedder=FAKE)
    idx = Path(s.index_dir)
    shutil.copy(idx / "vectors-1.faiss", idx / "vectors-0.faiss")
    shutil.copy(idx / "lexical-1.npz", idx / "lexical-0.npz")
    (idx / "vectors-2.faiss.tmp4242").write_bytes(b"half")
    (idx / "lexical-2.npz.tmp4242").write_bytes(b"half")
    (idx / "manifest.json.tmp4242").write_bytes(b"{")
    (idx / "manifest.json").write_text("{}")
    report = build([src], settings=s, embedder=FAKE)
    assert report.unchanged == 3 and report.chunks == 0
    names = sorted(p.name for p in idx.iterdir() if p.is_file() and not p.name.startswith("."))
    expected = ["lexical-1.npz", "manifest.json", "nearcopies.sqlite", "store.sqlite"]
    assert names == [*expected, "vectors-1.faiss"] + [
        n for n in names if n.startswith("store.sqlite-")
    ]
    assert json.loads((idx / "manifest.json").read_text())["generation"] == 1


def test_time_waiting_for_the_lock_is_not_build_time(tmp_path):
    """D14: 'N chunks embedded in X s' counted the wait for another build."""
    s = settings(tmp_path)
    held = threading.Event()

    def other_build():
        with Writer(s, embedder=FAKE):
            held.set()
            time.sleep(1.5)

    thread = threading.Thread(target=other_build)
    thread.start()
    held.wait()
    t0 = time.monotonic()
    report = build([corpus(tmp_path / "src", 2)], settings=s, embedder=FAKE, wait=30)
    waited = time.monotonic() - t0
    thread.join()
    assert waited >= 1.0 and report.seconds < waited - 0.9


# ---------------------------------------------------------------- messages


def test_index_list_is_one_line_per_document(tmp_path, capsys):
    """D7: a newline in a file name, a title or a record id broke `ancre index list`."""
    src = tmp_path / "nl"
    write(src / "nom\navec-retour.txt", "T\n\nLe village de Trébas a une passerelle.")
    write(src / "feed.jsonl", json.dumps({"id": "a\nb", "title": "Deux\nlignes", "text": "x"}))
    s = settings(tmp_path)
    build([src], settings=s, embedder=FAKE)
    assert main(["index", "list", "--index-dir", s.index_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and any("nom\\navec-retour.txt" in line for line in lines)
    assert any(line.startswith("a\\nb\t") and "Deux\\nlignes" in line for line in lines)


@pytest.mark.parametrize(
    ("model", "says"),
    [("/nonexistent/model", "no such folder"), ("ZOO", "not a model folder")],
)
def test_a_bad_embedding_model_is_refused_before_anything_is_announced(
    tmp_path, capsys, model, says
):
    """D10: raw library errors after a misleading 're-embedding every document'."""
    src = corpus(tmp_path / "src", 2)
    s = settings(tmp_path)
    build([src], settings=s, embedder=FAKE)
    model = str(src) if model == "ZOO" else model
    assert main(["index", "build", str(src), "--index-dir", s.index_dir, "--embed-model", model])
    out, err = capsys.readouterr()
    assert out == "" and err == f"ancre: error: embedding model {model}: {says}" + (
        " (it holds no modules.json or config.json); give a sentence-transformers model folder\n"
        if says == "not a model folder"
        else "\n"
    )
    assert consistent(s.index_dir) == 2


# ---------------------------------------------------------------- privacy

NO_NETWORK = '''
"""Loaded at start-up (sitecustomize): any connection other than to this machine fails,
and is written down in {log}."""
import socket

_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo
_create = socket.create_connection
LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0")


def _refuse(what):
    with open({log!r}, "a") as fh:
        fh.write(repr(what) + "\\n")
    raise OSError("network blocked by the test")


def connect(self, address):
    if self.family == socket.AF_UNIX or (isinstance(address, tuple) and address[0] in LOCAL):
        return _connect(self, address)
    _refuse(address)


def getaddrinfo(host, *args, **kwargs):
    if host in LOCAL or host is None:
        return _getaddrinfo(host, *args, **kwargs)
    _refuse(host)


def create_connection(address, *args, **kwargs):
    if address[0] in LOCAL:
        return _create(address, *args, **kwargs)
    _refuse(address)


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
socket.create_connection = create_connection
'''


@pytest.mark.slow
def test_full_run_offline_writes_only_index_and_cache_and_no_telemetry(tmp_path):
    """A first run on a fresh account (empty HOME: the OpenVINO model is converted, which
    is where OpenVINO's telemetry used to start), with every non-local connection refused:
    the build and a question with the default generator work; nothing tried the network;
    no ~/intel, and nothing written outside the index and ancre's cache."""
    home, tmp, site = tmp_path / "home", tmp_path / "tmp", tmp_path / "site"
    for folder in (home, tmp, site):
        folder.mkdir()
    attempts = tmp_path / "attempts.log"
    (site / "sitecustomize.py").write_text(textwrap.dedent(NO_NETWORK.format(log=str(attempts))))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANCRE_", "XDG_", "HF_", "TRANSFORMERS_", "GRADIO_"))
    }
    pythonpath = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=os.pathsep.join(pythonpath))
    index_dir = home / "idx"

    def ancre(*args: str) -> subprocess.CompletedProcess:
        code = "import sys; from ancre.ui.cli import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )

    built = ancre("index", "build", str(ARTICLES), "--index-dir", str(index_dir))
    assert built.returncode == 0, built.stderr
    asked = ancre(
        "ask", "Quand la ligne C du tramway ouvrira-t-elle ?", "--index-dir", str(index_dir)
    )
    assert asked.returncode == 0, asked.stderr
    assert "13 septembre 2025" in asked.stdout
    assert not attempts.exists(), attempts.read_text()
    assert not (home / "intel").exists()
    cache = home / ".cache" / "ancre"
    written = [p for p in home.rglob("*") if p.is_file()]
    outside = [p for p in written if not (p.is_relative_to(index_dir) or p.is_relative_to(cache))]
    assert not outside, outside
    temporary = [p for p in tmp.rglob("*") if p.is_file()]
    assert not temporary, temporary


PRIVACY = """
import os, sys
import ancre.index  # switches the reports off before anything else of ancre runs
try:
    import openvino_telemetry
except ImportError:
    telemetry = "blocked"
else:
    telemetry = "importable"
from openvino.tools.ovc import convert_model  # OpenVINO's converter still loads without it
print(telemetry, os.environ["GRADIO_ANALYTICS_ENABLED"], os.environ["HF_HUB_DISABLE_TELEMETRY"])
"""


def test_usage_reports_are_switched_off_on_import(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADIO_", "HF_"))}
    env["HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", PRIVACY], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["blocked", "False", "1"]
    assert not (tmp_path / "intel").exists()


def _foreign_vectors(path: Path) -> None:
    import faiss
    import numpy as np

    other = faiss.IndexIDMap2(faiss.IndexFlatIP(FAKE.dim))
    other.add_with_ids(np.ones((2, FAKE.dim), "float32"), np.array([77, 78]))
    faiss.write_index(other, str(path))


def _negated_vector(path: Path) -> None:
    """One stored vector negated in place: FAISS reads the file as before (review 2.3)."""
    import faiss

    data = bytearray(path.read_bytes())
    stored = faiss.read_index(str(path))
    vector = stored.reconstruct(int(faiss.vector_to_array(stored.id_map)[1]))
    at = data.find(vector.tobytes())
    assert at > 0
    data[at : at + vector.nbytes] = (-vector).tobytes()
    path.write_bytes(bytes(data))
    assert faiss.read_index(str(path)).ntotal == 4


DAMAGES = {
    "vectors truncated": ("vectors-1.faiss", lambda p: p.write_bytes(p.read_bytes()[:100]), True),
    "vector bytes changed": ("vectors-1.faiss", _negated_vector, True),
    "vectors missing": ("vectors-1.faiss", lambda p: p.unlink(), True),
    "vectors of another index": ("vectors-1.faiss", _foreign_vectors, True),
    "postings truncated": ("lexical-1.npz", lambda p: p.write_bytes(p.read_bytes()[:300]), False),
    "postings header": ("lexical-1.npz", lambda p: p.write_bytes(b"\x93NUMPY" * 11), False),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_derived_file_is_named_and_repaired_from_the_store(tmp_path, damage):
    name, harm, vectors = DAMAGES[damage]
    src = corpus(tmp_path / "src", 4)
    s = settings(tmp_path)
    build([src], settings=s, embedder=FAKE)
    harm(Path(s.index_dir) / name)
    with pytest.raises(index.StoreError) as err:
        IndexReader(s.index_dir)
    message = str(err.value)
    assert name in message and f"`ancre index repair --index-dir {s.index_dir}`" in message
    assert "Error in" not in message and "allow_pickle" not in message
    shutil.rmtree(src)  # the repair reads the store, never the sources
    embedder = HashEmbedder()
    report = build([], settings=s, embedder=embedder)
    assert (report.chunks, embedder.texts) == ((4, 4) if vectors else (0, 0))
    assert bool(report.reembedded) is vectors and (name in report.reembedded or not vectors)
    assert consistent(s.index_dir) == 4


def test_a_damaged_store_is_named_with_the_way_out(tmp_path):
    s = settings(tmp_path)
    build([corpus(tmp_path / "src", 2)], settings=s, embedder=FAKE)
    store = Path(s.index_dir) / "store.sqlite"
    store.write_bytes(b"garbage!" * 512)
    for opening in (lambda: IndexReader(s.index_dir), lambda: Writer(s, embedder=FAKE)):
        with pytest.raises(index.StoreError, match=r"store\.sqlite is damaged .* build the index"):
            opening()


def test_stats_show_the_vector_count(tmp_path, capsys):
    s = settings(tmp_path)
    build([corpus(tmp_path / "src", 3)], settings=s, embedder=FAKE)
    assert main(["index", "stats", "--index-dir", s.index_dir]) == 0
    assert "vectors: 3\n" in capsys.readouterr().out


def test_a_failed_vectors_write_leaves_nothing_behind(tmp_path, monkeypatch):
    import faiss

    from ancre.index.stores.directory.layout import write_vectors

    def full_disk(index, name):
        Path(name).write_bytes(b"half")
        raise RuntimeError("Error in faiss::write_index: write error (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", full_disk)
    with pytest.raises(index.StoreError, match=r"cannot write .*vectors-2\.faiss: no space left"):
        write_vectors(tmp_path / "vectors-2.faiss", object())
    assert list(tmp_path.iterdir()) == []


def test_a_failed_postings_write_leaves_nothing_behind(tmp_path, monkeypatch):
    import numpy as np

    from ancre.index.stores.directory.postings import Postings

    def full_disk(fh, **arrays):
        fh.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(index.StoreError, match=r"cannot write .*lexical-2\.npz: No space left"):
        Postings.from_texts([1], ["un texte"]).save(tmp_path / "lexical-2.npz")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_store_file_is_an_index_not_built_yet(tmp_path):
    s = settings(tmp_path)
    Path(s.index_dir).mkdir()
    (Path(s.index_dir) / "store.sqlite").write_bytes(b"")
    with pytest.raises(index.StoreError, match="holds no finished index build"):
        IndexReader(s.index_dir)
    assert build([corpus(tmp_path / "src", 2)], settings=s, embedder=FAKE).added == 2


def test_a_full_disk_at_the_postings_leaves_the_last_commit_and_no_new_file(tmp_path, monkeypatch):
    from ancre.index.stores.directory.postings import Postings

    s = settings(tmp_path)
    build([corpus(tmp_path / "src", 2)], settings=s, embedder=FAKE)

    def full_disk(self, path):
        raise index.StoreError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(Postings, "save", full_disk)
    with pytest.raises(index.StoreError, match="No space left"):
        build([corpus(tmp_path / "more", 3)], settings=s, embedder=FAKE)
    names = sorted(p.name for p in Path(s.index_dir).iterdir() if p.name.startswith("vectors"))
    assert names == ["vectors-1.faiss"]
    monkeypatch.undo()
    assert consistent(s.index_dir) == 2


def test_stats_check_reads_every_page_of_the_store(tmp_path, capsys):
    s = settings(tmp_path)
    build([corpus(tmp_path / "src", 40)], settings=s, embedder=FAKE)
    assert main(["index", "stats", "--check", "--index-dir", s.index_dir]) == 0
    assert "store_check: ok" in capsys.readouterr().out
    store = Path(s.index_dir) / "store.sqlite"
    data = bytearray(store.read_bytes())
    page = len(data) // 2 // 4096 * 4096
    data[page : page + 4096] = random.Random(1).randbytes(4096)
    store.write_bytes(bytes(data))
    assert main(["index", "stats", "--check", "--index-dir", s.index_dir]) == 1
    assert "store.sqlite is damaged" in capsys.readouterr().err


class StoppedEmbedder(HashEmbedder):
    """Stops the build (Ctrl-C) once ``calls`` batches are embedded."""

    def __init__(self, calls: int):
        super().__init__()
        self.stop_after = calls

    def embed(self, texts):
        if self.calls >= self.stop_after:
            raise KeyboardInterrupt
        return super().embed(texts)


def test_a_big_document_keeps_its_embedding_progress_across_an_interrupt(tmp_path):
    """Review 4.9: one big file is one document. Its embedding progress is kept as it
    goes (every commit_seconds), the document is still committed whole, and the next build
    embeds only what was not embedded yet."""
    from ancre.index.stores.basewriter import EMBED_BATCH, KEEP_PROGRESS_FROM

    lines = [f"Le conseil a voté la délibération numéro {n} sur la voirie." for n in range(1200)]
    src = write(tmp_path / "src" / "big.txt", "Registre\n\n" + "\n\n".join(lines))
    write(tmp_path / "src" / "small.txt", "Brève\n\nLe marché de Lavaur compte 64 producteurs.")
    s = settings(tmp_path, chunk_tokens=24, chunk_overlap=0, commit_seconds=0.0)
    stopped = StoppedEmbedder(calls=2)
    with pytest.raises(KeyboardInterrupt):
        build([src.parent], settings=s, embedder=stopped)
    kept = list(Path(s.index_dir).glob("progress-*.npz"))
    assert len(kept) == 1 and stopped.texts >= 2 * EMBED_BATCH
    big = [d for d in documents(s.index_dir) if d.endswith("big.txt")]
    assert big == []  # a reader never sees part of a document

    again = HashEmbedder()
    report = build([src.parent], settings=s, embedder=again)
    total = rows(s.index_dir, "SELECT count(*) FROM chunks")[0][0]
    big_chunks = rows(s.index_dir, "SELECT n_chunks FROM documents WHERE doc_id LIKE '%big.txt'")
    assert big_chunks[0][0] >= KEEP_PROGRESS_FROM and report.added == 2
    assert again.texts == total - stopped.texts  # big.txt is read first: all it embedded
    assert report.chunks == again.texts
    assert consistent(s.index_dir) == 2 and not list(Path(s.index_dir).glob("progress-*"))
    with IndexReader(s.index_dir) as reader:  # the kept vectors are the ones the model gives
        hit = reader.dense_search(again.embed(["Registre\n\n" + lines[700]]), 1)[0][0][0]
        assert reader.chunks([hit])[hit].doc_id.endswith("big.txt")


def test_kept_progress_of_a_document_that_changed_is_not_used(tmp_path):
    lines = [f"Le conseil a voté la délibération numéro {n} sur la voirie." for n in range(1200)]
    src = write(tmp_path / "src" / "big.txt", "Registre\n\n" + "\n\n".join(lines))
    s = settings(tmp_path, chunk_tokens=24, chunk_overlap=0, commit_seconds=0.0)
    with pytest.raises(KeyboardInterrupt):
        build([src.parent], settings=s, embedder=StoppedEmbedder(calls=1))
    write(src, "Registre modifié\n\n" + "\n\n".join(lines))
    again = HashEmbedder()
    build([src.parent], settings=s, embedder=again)
    assert again.texts == rows(s.index_dir, "SELECT count(*) FROM chunks")[0][0]
    assert not list(Path(s.index_dir).glob("progress-*"))


class FullDisk:
    """A SQLite connection whose ``failing`` statements end as on a full disk."""

    def __init__(self, conn: sqlite3.Connection, failing: str):
        self._conn, self._failing = conn, failing

    def execute(self, sql: str, *args):
        if sql.lstrip().upper().startswith(self._failing):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


FULL_AT = [("store.sqlite", "COMMIT"), ("nearcopies", "INSERT")]


@pytest.mark.parametrize(("file", "failing"), FULL_AT)
def test_a_full_disk_in_sqlite_names_the_file_and_the_way_out(tmp_path, monkeypatch, file, failing):
    """Review 3.2 and the 50 KB-free disk: SQLite's 'database or disk is full' alone named
    neither the file nor what to do."""
    src = corpus(tmp_path / "src", 3)
    s = settings(tmp_path)
    build([src], settings=s, embedder=FAKE)
    pool = "La piscine de Gaillac rouvre le 2 juin après huit mois de travaux sur ses bassins. "
    write(src / "new.txt", "Nouveau\n\n" + pool * 4)
    connect = sqlite3.connect

    def full(path, *args, **kwargs):
        conn = connect(path, *args, **kwargs)
        return FullDisk(conn, failing) if file in str(path) else conn

    monkeypatch.setattr(sqlite3, "connect", full)
    with pytest.raises(index.StoreError) as err:
        build([src], settings=s, embedder=FAKE)
    message = str(err.value)
    assert str(Path(s.index_dir) / file) in message or f"{file}.sqlite" in message
    assert "the disk is full" in message and "free some space" in message
    assert "keeps its last commit" in message
    monkeypatch.undo()
    assert consistent(s.index_dir) == 3
    assert build([src], settings=s, embedder=FAKE).added == 1 and consistent(s.index_dir) == 4
