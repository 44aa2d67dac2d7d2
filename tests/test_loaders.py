import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ancre.index.loaders import LoadError, Notice, Skipped, decode, load_sources, printable
from ancre.samples import ARTICLES


def local(doc_id):
    """A path-derived id without its folder key: 'articles@1a2b3c4d/x.md' -> 'x.md'."""
    return doc_id.split("/", 1)[1] if "@" in doc_id.split("/", 1)[0] else doc_id


def load(*paths):
    items = list(load_sources(list(paths)))
    docs = [i for i in items if not isinstance(i, (Skipped, Notice))]
    skipped = [i for i in items if isinstance(i, Skipped)]
    return docs, skipped


def test_sample_corpus_loads_every_format():
    docs, skipped = load(ARTICLES)
    assert not skipped
    assert len(docs) == 14
    by_id = {local(d.doc_id): d for d in docs}
    md = by_id["tramway-ligne-c-bellerive.md"]
    assert md.title.startswith("") and md.date and md.url.startswith("https://")
    assert not md.text.startswith("#") and "date:" not in md.text
    html = by_id["piratage-site-mairie-vernay.html"]
    assert html.url.startswith("https://") and html.date
    assert "<script>alert(1)</script>" in html.text  # escaped text in the article stays text
    assert "function" not in html.text  # the page's own <script> is gone
    jsonl = [d for d in docs if d.source.endswith("depeches.jsonl")]
    assert len(jsonl) == 2 and all(d.metadata.get("section") for d in jsonl)


def test_html_drops_scripts_styles_navigation(tmp_path):
    page = tmp_path / "a.html"
    page.write_text(
        "<html><head><title>Titre</title><style>p{color:red}</style></head><body>"
        "<nav>Accueil | Sport</nav><script>var x = 1;</script>"
        "<article><h1>Titre</h1><p>Premier paragraphe.</p><p>Second <b>gras</b>.</p></article>"
        "<footer>Mentions légales</footer></body></html>",
        encoding="utf-8",
    )
    (doc,), _ = load(page)
    assert doc.title == "Titre"
    assert doc.text == "Premier paragraphe.\n\nSecond gras."
    assert local(doc.doc_id) == "a.html"


def test_malformed_html_still_loads(tmp_path):
    page = tmp_path / "broken.htm"
    page.write_text("<html><title>Oups<body><p>Texte sans fin <div>encore", encoding="utf-8")
    docs, skipped = load(page)
    assert not skipped and "Texte sans fin" in docs[0].text


def test_jsonl_fields_and_broken_line(tmp_path):
    f = tmp_path / "news.jsonl"
    f.write_text(
        json.dumps(
            {
                "id": "n1",
                "title": "T",
                "body": "Un texte.",
                "published": "2024-01-02",
                "author": "A",
                "tags": ["x"],
            }
        )
        + "\n"
        + "{not json\n"
        + json.dumps({"title": "sans texte"})
        + "\n"
        + json.dumps({"content": "Deuxième texte."})
        + "\n",
        encoding="utf-8",
    )
    docs, skipped = load(f)
    assert [local(d.doc_id) for d in docs] == ["n1", "news.jsonl#4"]
    assert docs[0].date == "2024-01-02" and docs[0].metadata == {"tags": ["x"]}
    reasons = [s.reason for s in skipped]
    assert reasons[0].startswith("line 2: invalid JSON")
    assert reasons[1].startswith("line 3: no 'text'")


def test_json_object_and_array(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps({"text": "Seul."}), encoding="utf-8")
    (tmp_path / "many.json").write_text(
        json.dumps([{"id": 7, "text": "A."}, {"text": "B."}]), encoding="utf-8"
    )
    docs, skipped = load(tmp_path)
    assert not skipped
    assert sorted(local(d.doc_id) for d in docs) == ["7", "many.json#2", "one.json#1"]


def test_bad_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    (tmp_path / "fake.pdf").write_bytes(b"%PDF-1.4 garbage")
    (tmp_path / "big.txt").write_text("x" * 3_000_000, encoding="utf-8")
    (tmp_path / "ok.txt").write_text("Titre\n\nUn paragraphe.", encoding="utf-8")
    items = list(load_sources([tmp_path, tmp_path / "missing.txt"], max_file_mb=1))
    skipped = {s.path.rsplit("/", 1)[-1]: s.reason for s in items if isinstance(s, Skipped)}
    assert skipped["empty.txt"] == "empty file"
    assert "binary" in skipped["binary.txt"]
    assert "invalid JSON" in skipped["bad.json"]
    assert "PDF" in skipped["fake.pdf"]
    assert "over the 1 MB limit" in skipped["big.txt"]
    assert skipped["missing.txt"] == "no such file or folder"
    assert [d.title for d in items if not isinstance(d, Skipped)] == ["Titre"]


def test_non_utf8_text_is_detected():
    text = "Le président a déclaré que l'été serait chaud à Orléans. " * 5
    assert decode(text.encode("cp1252")) == text
    with pytest.raises(LoadError):
        decode(b"abc\x00def")


def test_pdf_text_layer(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    from pypdf.generic import NameObject

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": "Vide"})
    path = tmp_path / "blank.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    _, skipped = load(path)
    assert "no text layer" in skipped[0].reason
    assert NameObject  # imported to make sure pypdf's generic module is there


def test_a_pdf_keeps_where_each_page_starts(tmp_path):
    """The article reader shows the cited page: each page's first offset in the text."""
    from pdfmaker import write_pdf

    path = write_pdf(
        tmp_path / "rapport.pdf",
        [["Première page du rapport."], [], ["Troisième page : la halle rouvre le 6 juin."]],
        title="Rapport",
    )
    docs, _ = load(path)
    [doc] = docs
    assert doc.title == "Rapport" and doc.metadata["pdf_page_count"] == 3
    pages = doc.metadata["pdf_pages"]
    assert [n for n, _ in pages] == [1, 3]  # the empty page has no text
    assert doc.text[pages[1][1] :].startswith("Troisième page")
    assert doc.text[: pages[1][1]].strip() == "Première page du rapport."


def test_markdown_front_matter(tmp_path):
    f = tmp_path / "a.md"
    f.write_text(
        "---\ntitle: Avec front matter\ndate: 2025-01-01\n---\n\nCorps du texte.", encoding="utf-8"
    )
    (doc,), _ = load(f)
    assert doc.title == "Avec front matter" and doc.date == "2025-01-01"
    assert doc.text == "Corps du texte."


def test_markdown_headings_are_plain_paragraphs_and_the_title_is_not_repeated(tmp_path):
    f = tmp_path / "piscine.md"
    f.write_text(
        "---\ntitle: La piscine rouvre\n---\n\n# La piscine rouvre\n\nElle a rouvert samedi.\n"
        "## Un bassin nordique ##\nLe bassin mesure 50 mètres.\n\n### Tarifs\n\nTrois euros.\n"
        "#hashtag and C# stay as they are",
        encoding="utf-8",
    )
    (doc,), _ = load(f)
    assert doc.title == "La piscine rouvre"
    assert doc.text == (
        "Elle a rouvert samedi.\n\nUn bassin nordique\n\nLe bassin mesure 50 mètres.\n\n"
        "Tarifs\n\nTrois euros.\n#hashtag and C# stay as they are"
    )


@pytest.mark.parametrize(
    ("name", "text", "date"),
    [
        (
            "a.txt",
            "Le pont rouvre\n\nPublié le 12 mars 2025 à 10 h 32\n\nLe pont a rouvert.",
            "2025-03-12",
        ),
        (
            "b.md",
            "# Le pont rouvre\n\nPar Anne Roy, le 1er avril 2025\n\nLe pont a rouvert.",
            "2025-04-01",
        ),
        (
            "c.txt",
            "The bridge reopens\n\nBy Jane Doe | March 3, 2025\n\nThe bridge reopened.",
            "2025-03-03",
        ),
        ("d.md", "# Le pont\n\nLe pont a rouvert.\n\nMis à jour le 05/06/2025", "2025-06-05"),
        ("e.txt", "Le pont\n\n14 février 2025\n\nLe pont a rouvert.", "2025-02-14"),
        ("f.txt", "Le pont\n\nLe 17 octobre 2024, le pont a rouvert.", ""),
        ("h.txt", "Le pont\n\nPar ailleurs, le 3 mars 2025, le pont a rouvert.", ""),
        ("g.md", "---\ndate: 2024-01-02\n---\n# Le pont\n\nPublié le 12 mars 2025", "2024-01-02"),
    ],
)
def test_a_date_written_in_the_text_is_the_articles_date(tmp_path, name, text, date):
    """A byline or a date alone on a line near the top or the end; a date in a sentence
    is an event, and a date: line wins."""
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    (doc,), _ = load(f)
    assert doc.date == date


def test_hash_changes_with_content(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Titre\n\nTexte.", encoding="utf-8")
    (a,), _ = load(f)
    f.write_text("Titre\n\nTexte modifié.", encoding="utf-8")
    (b,), _ = load(f)
    assert a.doc_id == b.doc_id and a.hash != b.hash


def test_ids_name_their_folder_and_never_collide(tmp_path):
    """D1 at the source: the same relative path in two folders gives two ids; the same
    file gives the same id whether its folder or the file itself is named."""
    for folder in ("pA", "pB"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "article.txt").write_text(f"{folder}\n\nTexte.", encoding="utf-8")
    (a,), _ = load(tmp_path / "pA")
    (b,), _ = load(tmp_path / "pB")
    (again,), _ = load(tmp_path / "pA" / "article.txt")
    assert a.doc_id != b.doc_id and a.doc_id == again.doc_id
    assert a.doc_id.startswith("pA@") and a.doc_id.endswith("/article.txt")
    assert a.source == str((tmp_path / "pA" / "article.txt").resolve())


FRENCH_CP1252 = [
    "Élection à Saint-Étienne\n\nHélène Dupré est à la tête de la mairie. C’est très attendu.",
    "Budget de Lyon\n\nUn budget de 12 millions d’euros (12 M€). « C’est équilibré », dit-elle.",
    "Le cœur de la ville\n\nLes œuvres du musée, les sœurs de l’hôpital, très engagées.",
]


@pytest.mark.parametrize("text", FRENCH_CP1252)
def test_french_cp1252_is_read_right_without_a_doubt(text):
    """D2: charset-normalizer alone read these as cp1250/mac_latin2 ('ŕ la tęte')."""
    from ancre.index.decode import decode_bytes

    decoded = decode_bytes(text.encode("cp1252"))
    assert decoded.text == text and decoded.encoding == "cp1252" and not decoded.guessed


def test_utf16_is_text(tmp_path):
    """D3: UTF-16 with a byte-order mark was refused as binary (its NUL bytes)."""
    text = "Zoé\n\nLe conseil municipal a élu Zoé à la tête de la mairie."
    (tmp_path / "bom.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "le.txt").write_bytes(text.encode("utf-16-le"))
    items = list(load_sources([tmp_path]))
    docs = [i for i in items if not isinstance(i, (Skipped, Notice))]
    notices = [i for i in items if isinstance(i, Notice)]
    assert [d.text for d in docs] == ["Le conseil municipal a élu Zoé à la tête de la mairie."] * 2
    assert len(notices) == 1 and notices[0].path.endswith("le.txt")
    assert "utf-16-le" in notices[0].message


def test_a_doubtful_encoding_is_indexed_with_a_warning_naming_it(tmp_path):
    (tmp_path / "court.txt").write_bytes("Café\n\nUn café.".encode("cp1252"))
    items = list(load_sources([tmp_path]))
    (notice,) = [i for i in items if isinstance(i, Notice)]
    (doc,) = [i for i in items if not isinstance(i, Notice)]
    assert doc.title == "Café" and "encoding guessed as cp1252" in str(notice)


def test_a_few_bad_bytes_do_not_garble_a_utf8_file(tmp_path):
    text = "Élection à Orléans\n\nHélène Dupré a été élue maire d’Orléans dimanche."
    data = text.encode("utf-8").replace(b"maire", b"ma\xffire\xfe\xc3 ")
    (tmp_path / "abime.txt").write_bytes(data)
    items = list(load_sources([tmp_path]))
    (notice,) = [i for i in items if isinstance(i, Notice)]
    (doc,) = [i for i in items if not isinstance(i, Notice)]
    assert doc.title == "Élection à Orléans" and "Hélène Dupré" in doc.text
    assert "ma\ufffdire\ufffd\ufffd" in doc.text
    assert "3 invalid UTF-8 bytes replaced" in str(notice)
    assert decode("Élu à Orléans".encode("cp1252")) == "Élu à Orléans", "cp1252 still guessed"


def test_unclosed_title_keeps_the_body(tmp_path):
    """D9: the <title> swallowed the page, and text loose in a <div> was lost."""
    (tmp_path / "m.html").write_text(
        "<html><head><title>Tempête sur Orvalle<body><p>La tempête Ciara a abattu 300 "
        "arbres à Orvalle <b>mardi <i>soir</p><div>les secours sont intervenus 45 fois"
        "<p>Aucun blessé",
        encoding="utf-8",
    )
    (doc,), _ = load(tmp_path / "m.html")
    assert doc.title == "Tempête sur Orvalle"
    assert doc.text == (
        "La tempête Ciara a abattu 300 arbres à Orvalle mardi soir\n\n"
        "les secours sont intervenus 45 fois\n\nAucun blessé"
    )


def test_symlink_loops_and_broken_links_are_reported(tmp_path):
    """D6: looping links were passed over without a word."""
    (tmp_path / "ok.txt").write_text("T\n\nLe texte.", encoding="utf-8")
    os.symlink("loopA.txt", tmp_path / "loopA.txt")
    os.symlink("loop2.md", tmp_path / "loop1.md")
    os.symlink("loop1.md", tmp_path / "loop2.md")
    os.symlink(".", tmp_path / "self")
    os.symlink("missing.txt", tmp_path / "dangling.txt")
    os.symlink("missing.jpg", tmp_path / "other.jpg")  # not an article: not our business
    docs, skipped = load(tmp_path)
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert len(docs) == 1 and len(skipped) == 5
    assert all("loop" in reasons[n] for n in ("loopA.txt", "loop1.md", "loop2.md", "self"))
    assert "broken symbolic link" in reasons["dangling.txt"]
    _, named = load(tmp_path / "loopA.txt")  # named on the command line
    assert named[0].reason == "symbolic link loop"


UNREADABLE = """
import json, sys
from ancre.index.loaders import Skipped, load_sources
items = list(load_sources([sys.argv[1]]))
print(json.dumps([[i.path, i.reason] for i in items if isinstance(i, Skipped)]))
"""


def test_unreadable_folders_and_files_are_reported(tmp_path):
    """D6: an unreadable sub-folder was passed over without a word (pathlib's rglob hides
    the error). Root reads anything, so the check runs without root's override rights."""
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inner.txt").write_text("x\n\nDedans.", encoding="utf-8")
    (tmp_path / "noperm.txt").write_text("y\n\nFermé.", encoding="utf-8")
    (tmp_path / "ok.txt").write_text("z\n\nOuvert.", encoding="utf-8")
    (tmp_path / "locked").chmod(0)
    (tmp_path / "noperm.txt").chmod(0)
    command = [sys.executable, "-c", UNREADABLE, str(tmp_path)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        (tmp_path / "locked").chmod(0o755)
    skipped = {Path(p).name: reason for p, reason in json.loads(out)}
    assert skipped == {
        "locked": "cannot read folder: Permission denied",
        "noperm.txt": "cannot read: Permission denied",
    }


def test_names_are_escaped_in_messages():
    """D7: a newline or an escape sequence in a file name broke the one-line messages."""
    weird = Skipped("zoo/bad\nname\x1b[31m.txt", "line 2: invalid JSON")
    assert str(weird) == "zoo/bad\\nname\\x1b[31m.txt: line 2: invalid JSON"
    assert printable("é ü 漢字 ok") == "é ü 漢字 ok"
    assert printable(os.fsdecode(b"caf\xe9.txt")) == "caf\\udce9.txt"


def test_a_confined_walk_refuses_what_links_lead_to_outside(tmp_path):
    from ancre.index.walk import OUTSIDE, Skipped, walk

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "ok.txt").write_text("ok")
    (root / "sub" / "inner.txt").write_text("inner")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "sub" / "inside.txt").symlink_to(root / "ok.txt")
    (root / "out").symlink_to(outside)
    found = list(walk(root, (".txt",), confined=True))
    paths = sorted(p.relative_to(root).as_posix() for p in found if not isinstance(p, Skipped))
    refused = sorted(Path(s.path).name for s in found if isinstance(s, Skipped))
    assert paths == ["ok.txt", "sub/inner.txt", "sub/inside.txt"]
    assert refused == ["link.txt", "out"]
    assert all(s.reason == OUTSIDE for s in found if isinstance(s, Skipped))
    assert len(list(walk(root, (".txt",)))) == 5, (
        "the CLI's walk follows links (its user named the folder)"
    )


def test_html_tags_are_stripped_from_titles(tmp_path):
    """Titles are shown as text: tags some sources leave in them go at indexing, a lone
    « < » stays."""
    f = tmp_path / "wiki.jsonl"
    rows = [
        {"id": "a", "title": "<i>Belem</i> (navire)", "text": "Le Belem est un trois-mâts."},
        {
            "id": "b",
            "title": '<span class="nowrap">Pie <abbr title="7">VII</abbr></span>',
            "text": "Pie VII fut pape.",
        },
        {"id": "c", "title": "1 < 2 et 3 > 2", "text": "Des nombres."},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    docs, _ = load(f)
    assert [d.title for d in docs] == ["Belem (navire)", "Pie VII", "1 < 2 et 3 > 2"]
