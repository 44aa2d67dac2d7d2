"""The command line, in-process."""

import json

import pytest

from ancre.samples import ARTICLES
from ancre.ui.cli import main

pytestmark = pytest.mark.slow


def test_help_is_instant_and_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("index", "ask", "chat", "eval", "bench"):
        assert command in out


def test_version_and_a_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("ancre 0.")
    idx = str(tmp_path / "idx")
    assert main(["index", "build", str(tmp_path / "artciles"), "--index-dir", idx]) == 1
    assert "nothing to index: no such file or folder" in capsys.readouterr().err
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Alpha\n\nLe tramway ouvre en 2031.", encoding="utf-8")
    (src / "b.txt").write_text("Bêta\n\nLe pont rouvre en 2032.", encoding="utf-8")
    assert main(["index", "build", str(src), "--index-dir", idx]) == 0
    (src / "b.txt").unlink()
    capsys.readouterr()
    assert main(["index", "build", str(src), "--index-dir", idx]) == 0
    assert "1 indexed file no longer exists: --prune removes it" in capsys.readouterr().err
    assert main(["index", "build", str(src), "--index-dir", idx, "--prune"]) == 0
    assert "no longer exist" not in capsys.readouterr().err


def test_index_commands_and_ask(tmp_path, capsys):
    idx = str(tmp_path / "idx")
    assert main(["index", "build", str(ARTICLES), "--index-dir", idx]) == 0
    assert "14 added" in capsys.readouterr().out
    assert main(["index", "build", str(ARTICLES), "--index-dir", idx, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unchanged"] == 14 and report["chunks"] == 0
    assert main(["index", "list", "--index-dir", idx]) == 0
    assert "tramway-ligne-c-bellerive.md" in capsys.readouterr().out
    assert main(["index", "stats", "--index-dir", idx, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 14
    assert (
        main(
            [
                "ask",
                "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis ?",
                "--index-dir",
                idx,
                "--json",
                "--llm",
                "none",
            ]
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)
    assert (
        answer["mode"] in ("stated", "evidence") and not answer["generated"] and answer["citations"]
    )
    assert "74 500" in answer["text"]
    canicule = str(ARTICLES / "canicule-record-port-joubert.txt")  # a file names its documents
    assert main(["index", "remove", canicule, "nope", "--index-dir", idx]) == 3
    captured = capsys.readouterr()
    assert "1 removed" in captured.out and "not in the index: nope" in captured.err


def test_skipped_files_set_the_exit_code(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.txt").write_text("Titre\n\nUn texte.", encoding="utf-8")
    (tmp_path / "src" / "vide.md").write_text("", encoding="utf-8")
    code = main(["index", "build", str(tmp_path / "src"), "--index-dir", str(tmp_path / "i")])
    assert code == 3
    assert "vide.md: empty file" in capsys.readouterr().err


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["ask", "Bonjour ?", "--index-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ancre: error: no index in") and "ancre index build" in err


def test_config_shows_env_overrides(monkeypatch, capsys):
    monkeypatch.setenv("ANCRE_TOP_K", "7")
    assert main(["config"]) == 0
    assert "top_k = 7" in capsys.readouterr().out
    monkeypatch.setenv("ANCRE_TOP_K", "sept")
    assert main(["config"]) == 1
    assert "ANCRE_TOP_K='sept' is not a valid int" in capsys.readouterr().err


def test_index_watch_runs_twice(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Premier\n\nLe tramway de Lyon a ouvert en 2001.", "utf-8")
    idx = str(tmp_path / "idx")
    assert (
        main(["index", "watch", str(src), "--every", "0.2s", "--runs", "2", "--index-dir", idx])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "1 added" in lines[0] and "1 unchanged" in lines[1]
