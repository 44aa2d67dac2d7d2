"""The embedding encoder's identity (int8 or fp32) in the manifest, the fp32 switch, and a
query path that imports neither torch nor transformers."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ancre.index import IndexReader, IndexSettings, Writer, build, load_embedder
from ancre.index.embed import TransformerEmbedder
from ancre.qa import Retriever
from ancre.ui.cli import parser, settings_from
from conftest import HashEmbedder


def corpus(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.txt").write_text("Alpha\n\nLe tramway de Lyon a ouvert en 2001.", encoding="utf-8")
    (root / "b.txt").write_text("Bêta\n\nLa médiathèque a coûté 12 millions.", encoding="utf-8")
    return root


def settings(tmp_path, **fields) -> IndexSettings:
    return IndexSettings.from_env(index_dir=str(tmp_path / "idx"), **fields)


def forget_encoder(index_dir) -> None:
    """Make the manifest look like one written before ancre recorded the encoder."""
    reader = IndexReader(index_dir)
    manifest = {
        k: v for k, v in reader.manifest.items() if k not in ("embed_precision", "embed_encoder")
    }
    reader.close()
    import sqlite3

    with sqlite3.connect(f"{index_dir}/store.sqlite") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'manifest'", (json.dumps(manifest),))


def test_manifest_records_the_encoder_and_a_change_reembeds(tmp_path):
    src, s = corpus(tmp_path / "src"), settings(tmp_path)
    build([src], settings=s, embedder=HashEmbedder(encoder="fp32"))
    manifest = IndexReader(s.index_dir).manifest
    assert (manifest["embed_precision"], manifest["embed_encoder"]) == ("fp32", "fp32")
    same = build([src], settings=s, embedder=HashEmbedder(encoder="fp32"))
    assert not same.reembedded and same.chunks == 0
    report = build([src], settings=s, embedder=HashEmbedder(encoder="int8-test"))
    assert report.reembedded == "embed_encoder changed: fp32 -> int8-test"
    assert report.chunks == 2 and report.unchanged == 2
    manifest = IndexReader(s.index_dir).manifest
    assert (manifest["embed_precision"], manifest["embed_encoder"]) == ("int8", "int8-test")


def test_index_without_a_recorded_encoder_counts_as_fp32(tmp_path):
    src, s = corpus(tmp_path / "src"), settings(tmp_path)
    build([src], settings=s, embedder=HashEmbedder(encoder="fp32"))
    forget_encoder(s.index_dir)
    assert not build([src], settings=s, embedder=HashEmbedder(encoder="fp32")).reembedded
    forget_encoder(s.index_dir)
    report = build([src], settings=s, embedder=HashEmbedder(encoder="int8-test"))
    assert report.reembedded == "embed_encoder changed: fp32 -> int8-test"


def test_writer_takes_the_precision_setting_then_the_index_one(tmp_path):
    """The real embedder is only named here, never loaded: the encoder id is known first."""
    src, s = corpus(tmp_path / "src"), settings(tmp_path)
    minilm = HashEmbedder(model_id="all-MiniLM-L6-v2", encoder="fp32")
    build([src], settings=s, embedder=minilm)
    with Writer(s) as w:  # empty setting: the index's precision sticks
        assert w.embedder.encoder == "fp32" and not w.reembed_reason
    with Writer(settings(tmp_path, embed_precision="int8")) as w:
        assert w.embedder.encoder.startswith("int8-nncf")
        assert w.reembed_reason.startswith("embed_encoder changed: fp32 -> int8-nncf")
    forget_encoder(s.index_dir)  # built before ancre recorded it: int8 by default
    with Writer(s) as w:
        assert w.embedder.encoder.startswith("int8-nncf") and w.reembed_reason


def test_reader_embeds_queries_with_the_index_encoder_or_refuses(tmp_path):
    src, s = corpus(tmp_path / "src"), settings(tmp_path)
    build([src], settings=s, embedder=HashEmbedder(encoder="int8-test"))
    retriever = Retriever.open(s.index_dir, settings=s)  # named, not loaded
    assert (retriever.embedder.model_id, retriever.embedder.encoder) == ("hash-256", "int8-test")
    retriever.close()
    with pytest.raises(ValueError, match=r"embedded in int8, not fp32.*--embed-precision fp32"):
        Retriever.open(s.index_dir, settings=settings(tmp_path, embed_precision="fp32"))
    with pytest.raises(ValueError, match="encoder int8-test, not fp32"):
        Retriever.open(s.index_dir, embedder=HashEmbedder(encoder="fp32"))


def test_precision_switch_from_env_and_flag(monkeypatch):
    monkeypatch.setenv("ANCRE_EMBED_PRECISION", "fp32")
    assert IndexSettings.from_env().embed_precision == "fp32"
    monkeypatch.delenv("ANCRE_EMBED_PRECISION")
    args = parser().parse_args(["ask", "Quand ?", "--embed-precision", "fp32"])
    assert settings_from(args)[0].embed_precision == "fp32"
    args = parser().parse_args(["index", "build", "x", "--embed-precision", "int8"])
    assert settings_from(args)[0].embed_precision == "int8"
    with pytest.raises(SystemExit):
        parser().parse_args(["ask", "Quand ?", "--embed-precision", "int4"])


def test_precision_names_the_encoder_without_loading_it():
    assert TransformerEmbedder(precision="fp32").encoder == "fp32"
    int8 = TransformerEmbedder(precision="int8")
    assert int8.encoder.startswith("int8-nncf") and int8.precision == "int8"
    assert TransformerEmbedder().encoder == int8.encoder  # the default where OpenVINO serves
    assert TransformerEmbedder(backend="torch").encoder == "fp32"
    with pytest.raises(ValueError, match="int8 embeddings need OpenVINO"):
        TransformerEmbedder(backend="torch", precision="int8")
    with pytest.raises(ValueError, match="int8 or fp32"):
        TransformerEmbedder(precision="int4")
    assert "model" not in vars(int8)  # nothing was loaded


@pytest.mark.slow
def test_int8_encoder_is_the_default_and_close_to_fp32(sample_index):
    manifest = IndexReader(sample_index).manifest
    assert manifest["embed_precision"] == "int8"
    texts = ["Quand la ligne C ouvrira-t-elle ?", "La médiathèque a coûté 12 millions d'euros."]
    cache = IndexSettings.from_env().cache_dir
    int8 = load_embedder(cache_dir=cache, encoder=manifest["embed_encoder"]).embed(texts)
    fp32 = load_embedder(cache_dir=cache, precision="fp32").embed(texts)
    assert not np.array_equal(int8, fp32)
    assert (int8 * fp32).sum(axis=1).min() > 0.98


@pytest.mark.slow
def test_ask_on_openvino_imports_neither_torch_nor_transformers(sample_index):
    code = (
        "import json, sys\n"
        "from ancre.ui.cli import main\n"
        f"rc = main(['ask', 'Quand la ligne C ouvrira-t-elle ?', '--index-dir', {sample_index!r},"
        " '--llm', 'none'])\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'nncf')\n"
        "print(json.dumps([rc, sorted(m for m in heavy if m in sys.modules)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, []], out.stderr


@pytest.mark.slow
def test_the_ancre_command_ends_a_question_at_once_with_its_output_whole(sample_index):
    """``ancre ask`` skips the interpreter's teardown (``run``): the answer is still printed
    in full, piped, and the exit code is the command's."""
    ask = [sys.executable, "-m", "ancre.ui.cli", "ask", "--index-dir", str(sample_index)]
    out = subprocess.run(
        [*ask, "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)  # the whole JSON document made it out
    assert answer["citations"] and "13 septembre 2025" in answer["text"]
    empty = subprocess.run([*ask, "  "], capture_output=True, text=True, timeout=300)
    assert empty.returncode == 1 and "the question is empty" in empty.stderr


def test_texts_tokenised_once_then_padded_are_the_batch_inputs():
    pieces = TransformerEmbedder().tokenizer
    texts = ["Alpha\nLe tramway de Lyon a ouvert en 2001.", "court", "élysée " * 400, ""]
    once = pieces.pad(pieces.encode(texts))
    batch = pieces.batch(texts)
    assert once.keys() == batch.keys() and batch["input_ids"].shape == (4, 256)
    for key, array in batch.items():
        assert once[key].dtype == array.dtype and np.array_equal(once[key], array), key


@pytest.mark.slow
def test_bulk_embedding_matches_one_text_at_a_time():
    embedder = TransformerEmbedder(batch_size=4)  # int8 on OpenVINO
    texts = [f"Titre {i}\n" + "mot " * (i * 7 % 60) + f"fin {i}." for i in range(11)]
    bulk = embedder.embed(texts)  # sorted by word pieces, three batches in flight
    alone = np.concatenate([embedder.embed([t]) for t in texts])
    assert bulk.shape == (11, embedder.dim)
    assert (bulk * alone).sum(axis=1).min() > 0.9999
