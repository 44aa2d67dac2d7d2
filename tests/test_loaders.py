import json

import pytest

from ancre.index.loaders import LoadError, Skipped, decode, load_sources
from ancre.samples import ARTICLES


def local(doc_id):
    """A path-derived id without its folder key: 'articles@1a2b3c4d/x.md' -> 'x.md'."""
    return doc_id.split("/", 1)[1] if "@" in doc_id.split("/", 1)[0] else doc_id


def load(*paths):
    items = list(load_sources(list(paths)))
    docs = [i for i in items if not isinstance(i, Skipped)]
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


def test_markdown_front_matter(tmp_path):
    f = tmp_path / "a.md"
    f.write_text(
        "---\ntitle: Avec front matter\ndate: 2025-01-01\n---\n\nCorps du texte.", encoding="utf-8"
    )
    (doc,), _ = load(f)
    assert doc.title == "Avec front matter" and doc.date == "2025-01-01"
    assert doc.text == "Corps du texte."


def test_hash_changes_with_content(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Titre\n\nTexte.", encoding="utf-8")
    (a,), _ = load(f)
    f.write_text("Titre\n\nTexte modifié.", encoding="utf-8")
    (b,), _ = load(f)
    assert a.doc_id == b.doc_id and a.hash != b.hash
