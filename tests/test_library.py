"""The Documents tab's logic (``Library``) on a real index built with the hashing embedder:
uploads indexed at once with one status per file, refused files deleted and explained
without paths, removal by name, search, server folders only when allowed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ancre.index import IndexSettings, build
from ancre.samples import ARTICLES
from ancre.ui.library import Library, render_documents, render_statuses
from ancre.ui.uploads import uploads_dir
from conftest import HashEmbedder


@pytest.fixture
def library(tmp_path) -> Library:
    index_dir = tmp_path / "index"
    embedder = HashEmbedder()
    build([ARTICLES], index_dir=index_dir, embedder=embedder)
    return Library(IndexSettings(index_dir=str(index_dir)), embedder=embedder)


@pytest.fixture
def incoming(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


ARTICLE = "Le pont de Zorglub rouvre\n\nLe pont de Zorglub rouvre lundi après huit mois de travaux."


def test_uploads_are_indexed_with_one_status_per_file(library, incoming):
    good = write(incoming, "Pont Zorglub.txt", ARTICLE)
    binary = incoming / "binaire.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    empty = write(incoming, "vide.md", "")
    script = write(incoming, "outil.sh", "echo")
    steps = []
    statuses = library.add_files(
        [good, binary, empty, script], progress=lambda f, _d: steps.append(f)
    )
    by_name = {s.name: s for s in statuses}
    assert [s.state for s in statuses].count("refused") == 3
    assert by_name["Pont Zorglub.txt"].state == "added"
    assert by_name["Pont Zorglub.txt"].text("fr") == "✓ ajouté (1 passage)"
    assert by_name["binaire.txt"].text("fr") == "fichier binaire, pas du texte"
    assert by_name["vide.md"].text("en") == "empty file"
    assert by_name["outil.sh"].key == "reason_extension"
    assert steps[0] < steps[-1] == 1.0
    # refused files are not kept, so no later build reports them again
    assert [p.name for p in uploads_dir(library.index_settings.index_dir).iterdir()] == [
        "Pont-Zorglub.txt"
    ]
    html = render_statuses(statuses, "fr")
    assert html.count("<li") == 4 and "refusé : fichier binaire, pas du texte" in html
    assert str(incoming) not in html and "uploads" not in html
    # the same file again: already indexed, nothing new stored
    again = library.add_files([good])
    assert [s.state for s in again] == ["unchanged"]
    assert again[0].text("fr") == "déjà indexé, inchangé (1 passage)"
    assert "inchangé" in render_statuses(again, "fr")
    assert len(list(uploads_dir(library.index_settings.index_dir).iterdir())) == 1


def test_a_txt_title_comes_from_its_first_line(library, incoming):
    paragraph = (
        "La France, ses partenaires européens et le Canada ont confirmé officiellement ce "
        "jeudi le retrait du Mali des opérations antidjihadistes Barkhane et Takuba, suite à "
        "la dégradation des relations avec la junte."
    )
    library.add_files(
        [
            write(incoming, "retrait.txt", "Retrait du Mali\nLa France se retire."),
            write(incoming, "mali.txt", paragraph),  # one long line: no title line
        ]
    )
    titles = {d["doc_id"].rsplit("/", 1)[-1]: d["title"] for d in library.documents()}
    assert titles["retrait.txt"] == "Retrait du Mali"
    assert titles["mali.txt"].startswith("La France, ses partenaires européens")
    assert titles["mali.txt"].endswith("…") and len(titles["mali.txt"]) <= 91
    mali = next(d for d in library.documents() if d["doc_id"].endswith("/mali.txt"))
    assert mali["n_chunks"] >= 1


def test_a_same_name_upload_never_replaces_another_document(library, incoming):
    library.add_files([write(incoming, "article.txt", ARTICLE)])
    other = incoming / "b"
    other.mkdir()
    second = write(other, "article.txt", "Le marché rouvre\n\nLe marché couvert rouvre mardi.")
    statuses = library.add_files([second])
    assert [s.state for s in statuses] == ["added"]
    titles = {d["doc_id"].rsplit("/", 1)[-1]: d["title"] for d in library.documents()}
    assert titles["article.txt"] == "Le pont de Zorglub rouvre"
    assert titles["article-2.txt"] == "Le marché rouvre"


CORRECTED = (
    "Le pont de Zorglub rouvre\n\nLe pont de Zorglub rouvre mardi après neuf mois de travaux."
)


def held_corrected(library, incoming, name="article.txt"):
    """``name`` indexed, then a corrected file of the same name held for the user's choice."""
    library.add_files([write(incoming, name, ARTICLE)])
    other = incoming / "b"
    other.mkdir()
    [status] = library.add_files([write(other, name, CORRECTED)], same_name="ask")
    assert status.state == "same_name" and status.held
    assert "déjà indexé" in status.text("fr")
    assert [d["title"] for d in library.documents("zorglub")] == ["Le pont de Zorglub rouvre"]
    return status


def texts_of(library) -> list[str]:
    from ancre.index import open_reader

    with open_reader(library.index_settings) as reader:
        ids = [int(i) for i in reader.ids()]
        return [c.text for c in reader.chunks(ids).values() if "Zorglub" in c.text]


def test_a_corrected_file_of_the_same_name_replaces_the_indexed_one(library, incoming):
    status = held_corrected(library, incoming)
    [done] = library.decide([status], "replace")
    assert done.state == "updated" and done.text("fr") == "✓ mis à jour (1 passage)"
    [doc] = library.documents("zorglub")
    assert doc["doc_id"].endswith("/article.txt")
    assert [t for t in texts_of(library) if "neuf mois" in t] and not [
        t for t in texts_of(library) if "huit mois" in t
    ]
    up = uploads_dir(library.index_settings.index_dir)
    assert sorted(p.name for p in up.iterdir()) == ["article.txt"]  # nothing held is left


def test_keep_both_puts_the_corrected_file_beside_and_cancel_adds_nothing(library, incoming):
    status = held_corrected(library, incoming)
    [done] = library.decide([status], "keep")
    assert done.state == "added"
    names = sorted(d["doc_id"].rsplit("/", 1)[-1] for d in library.documents("zorglub"))
    assert names == ["article-2.txt", "article.txt"]
    again = incoming / "c"
    again.mkdir()
    [status] = library.add_files(
        [write(again, "article.txt", "Le pont\n\nTroisième.")], same_name="ask"
    )
    [done] = library.decide([status], "cancel")
    assert done.state == "cancelled" and len(library.documents("zorglub")) == 2
    assert library.decide([status], "replace")[0].state == "refused"  # released: gone


def test_replacing_a_document_indexed_from_elsewhere_removes_it(library, incoming):
    """A corrected sample article (its source is not an upload): the upload is indexed and
    the sample's document removed."""
    name = "tramway-ligne-c-bellerive.md"
    fixed = (ARTICLES / name).read_text(encoding="utf-8").replace("21 stations", "22 stations")
    [status] = library.add_files([write(incoming, name, fixed)], same_name="ask")
    assert status.state == "same_name"
    [kept] = library.decide([status], "keep")  # a near copy: not a second document
    assert kept.text("fr") == "presque identique à un document déjà indexé"
    [status] = library.add_files([incoming / name], same_name="ask")
    [done] = library.decide([status], "replace")
    assert done.state == "updated"
    [doc] = library.documents("tramway")
    assert Path(doc["source"]).parent == uploads_dir(library.index_settings.index_dir)


def test_a_replacement_that_cannot_be_indexed_loses_nothing(library, incoming):
    """A binary file named like an upload, then like a sample: refused, and the indexed
    versions stay (the upload's bytes are put back, the sample is indexed again)."""
    library.add_files([write(incoming, "article.txt", ARTICLE)])
    for name in ("article.txt", "tramway-ligne-c-bellerive.md"):
        folder = incoming / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_bytes(bytes(range(256)) * 8)
        [status] = library.add_files([folder / name], same_name="ask")
        [done] = library.decide([status], "replace")
        assert done.state != "updated", done
    assert [d["title"] for d in library.documents("zorglub")] == ["Le pont de Zorglub rouvre"]
    [tram] = library.documents("tramway")
    assert tram["source"].endswith("articles/tramway-ligne-c-bellerive.md")
    up = uploads_dir(library.index_settings.index_dir)
    assert (up / "article.txt").read_text(encoding="utf-8") == ARTICLE


def test_the_same_bytes_again_are_not_asked_about(library, incoming):
    library.add_files([write(incoming, "article.txt", ARTICLE)])
    [status] = library.add_files([incoming / "article.txt"], same_name="ask")
    assert status.state == "unchanged"


def test_a_duplicate_of_an_indexed_article_is_refused_and_deleted(library, incoming):
    twin = incoming / "copie.md"
    shutil.copyfile(ARTICLES / "tramway-ligne-c-bellerive.md", twin)
    [status] = library.add_files([twin])
    assert status.state == "refused" and status.text("fr") == "identique à un document déjà indexé"
    assert not any(uploads_dir(library.index_settings.index_dir).iterdir())


def test_an_upload_shown_as_progress_prints_nothing_into_the_servers_log(library, incoming, capfd):
    steps = []
    library.add_files(
        [write(incoming, "pont.txt", ARTICLE)], progress=lambda f, _d: steps.append(f)
    )
    assert steps[-1] == 1.0
    out, err = capfd.readouterr()
    assert "embedding" not in err + out and "chunk" not in err + out


def test_remove_names_the_document_and_deletes_its_upload(library, incoming):
    library.add_files([write(incoming, "Pont Zorglub.txt", ARTICLE)])
    [doc] = library.documents("zorglub")
    assert doc["doc_id"].endswith("/Pont-Zorglub.txt")
    assert library.remove(doc["doc_id"]) == "Le pont de Zorglub rouvre"
    assert library.documents("zorglub") == []
    assert not any(uploads_dir(library.index_settings.index_dir).iterdir())
    assert library.remove(doc["doc_id"]) is None


def test_search_and_the_table(library):
    rows = library.documents("TRAMWAY")
    assert len(rows) == 1 and "tramway" in rows[0]["title"]
    assert len(library.documents("bellerive")) >= 2  # accents and case ignored
    html = render_documents(rows, "fr")
    assert "18 juin 2025" in html and "lecho-de-loire.example" in html
    assert f'data-doc="{rows[0]["doc_id"]}"' in html and ">Retirer</button>" in html
    assert "Aucun document ne correspond à « zzz »" in render_documents([], "fr", "zzz")


def test_examples_are_the_sample_questions_whose_article_is_indexed(library):
    examples = library.examples()
    assert examples[0] == "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
    assert len(examples) == 3 and not any(q.startswith("Et ") for q in examples)


def test_a_library_of_ones_own_gets_no_made_up_examples(tmp_path, incoming):
    write(incoming, "Pont Zorglub.txt", ARTICLE)
    embedder = HashEmbedder()
    build([incoming], index_dir=tmp_path / "own", embedder=embedder)
    own = Library(IndexSettings(index_dir=str(tmp_path / "own")), embedder=embedder)
    assert own.documents() and own.examples() == []


def test_a_server_folder_only_when_allowed(library, tmp_path, incoming):
    write(incoming, "un.md", "# Un\n\nPremier article du dossier autorisé.")
    sub = incoming / "sous"
    sub.mkdir()
    write(sub, "deux.txt", "Deux\n\nSecond article du dossier autorisé.")
    assert library.folders() == []
    [refused] = library.add_folder(0)
    assert refused.key == "folder_refused"
    allowed = Library(library.index_settings, embedder=library.embedder, allow_dirs=[incoming])
    assert allowed.folders() == ["incoming"]
    statuses = allowed.add_folder(0)
    assert sorted((s.name, s.state) for s in statuses) == [
        ("sous/deux.txt", "added"),
        ("un.md", "added"),
    ]
    assert str(tmp_path) not in render_statuses(statuses, "fr")
    assert allowed.add_folder(5)[0].key == "folder_refused"


def test_a_server_folder_never_reaches_out_through_a_link(library, tmp_path, incoming):
    """A link in the allowed folder must not expose other files of the server."""
    outside = tmp_path / "outside"
    outside.mkdir()
    write(outside, "secret.txt", "Hors dossier\n\nLe code secret du coffre est 7731.")
    write(incoming, "ok.txt", "Autorisé\n\nLe musée de Gaillac ouvre le mardi.")
    (incoming / "secret.txt").symlink_to(outside / "secret.txt")
    (incoming / "out_link").symlink_to(outside)
    allowed = Library(library.index_settings, embedder=library.embedder, allow_dirs=[incoming])
    statuses = allowed.add_folder(0)
    assert sorted((s.name, s.state, s.key) for s in statuses) == [
        ("ok.txt", "added", "status_added"),
        ("out_link", "refused", "reason_outside"),
        ("secret.txt", "refused", "reason_outside"),
    ]
    assert not any("7731" in str(d) or "outside" in str(d) for d in allowed.documents())
    assert str(tmp_path) not in render_statuses(statuses, "en")


def test_an_upload_during_another_build_is_refused_by_name_and_not_kept(library, incoming):
    from ancre.index import Writer

    good = write(incoming, "Pont Zorglub.txt", ARTICLE)
    with Writer(library.index_settings, embedder=library.embedder):  # a CLI build, say
        statuses = library.add_files([good])
    assert [(s.name, s.state, s.key) for s in statuses] == [("Pont Zorglub.txt", "refused", "busy")]
    up = uploads_dir(library.index_settings.index_dir)
    assert not up.exists() or not any(up.iterdir())


def test_gradio_copies_of_uploads_are_deleted_once_handled(tmp_path):
    from ancre.ui.uploads import discard_received

    one, two = tmp_path / "gradio" / "h1" / "a.txt", tmp_path / "gradio" / "h2" / "b.txt"
    for path in (one, two):
        path.parent.mkdir(parents=True)
        path.write_text("x")
    (two.parent / "other.txt").write_text("y")
    discard_received([str(one), two])
    assert not one.parent.exists() and not two.exists() and (two.parent / "other.txt").exists()
