"""A zoo of bad and odd inputs, each with what ancre must do with it.

``make_zoo(folder)`` writes the files and returns the cases. A case is either indexed (the
document's text must contain ``text`` and its title start with ``title``) or reported: a
skip whose reason contains ``reason``, once, for the path ``name``. ``warned`` cases are
indexed and also reported as a warning (an encoding guessed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ELF = bytes.fromhex("7f454c46020101000000000000000000") + bytes(range(256)) * 4

FRENCH = {
    "apostrophe": "Élection à Saint-Étienne\n\nLe conseil municipal a élu Hélène Dupré à la "
    "tête de la mairie. C’est un résultat très attendu après une campagne où les thèmes de "
    "l’écologie ont dominé.",
    "euro": "Budget de Lyon\n\nLa ville a voté un budget de 12 millions d’euros (12 M€). "
    "« C’est un budget équilibré », a déclaré l’adjointe aux finances, très satisfaite.",
    "oe": "Le cœur de la ville\n\nLes œuvres du musée ont été déplacées. Le maire a salué le "
    "travail des sœurs de l’hôpital, très engagées auprès des élèves.",
}


@dataclass
class Case:
    name: str
    """Path of the file (or folder, or link) inside the zoo folder."""
    reason: str = ""
    """Expected in the skip message; empty for a case that must be indexed."""
    text: str = ""
    """Expected in the indexed text."""
    title: str = ""
    warned: bool = False
    count: int = 1
    """Documents (indexed case) or skip lines (reported case) it gives."""


def _write(folder: Path, name: str, data: bytes | str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _image_only_pdf(path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with open(path, "wb") as fh:
        writer.write(fh)


def make_zoo(folder: Path) -> list[Case]:
    """At least 25 bad or odd inputs in ``folder``; big files count against a 1 MB limit."""
    folder.mkdir(parents=True, exist_ok=True)
    w = lambda name, data: _write(folder, name, data)  # noqa: E731
    cases: list[Case] = []

    w("empty.txt", b"")
    cases.append(Case("empty.txt", reason="empty file"))
    w("blank.md", "   \n\n \t\n")
    cases.append(Case("blank.md", reason="no text found"))
    w("binary.txt", ELF)
    cases.append(Case("binary.txt", reason="binary content"))
    w("binary.md", ELF)
    cases.append(Case("binary.md", reason="binary content"))
    w("latin1.txt", "Élection à Orléans\n\nHélène a été élue, très largement.".encode("latin-1"))
    cases.append(Case("latin1.txt", text="Hélène a été élue, très largement.", title="Élection"))
    for key, text in FRENCH.items():
        w(f"cp1252_{key}.txt", text.encode("cp1252"))
        body = text.split("\n\n", 1)[1]
        cases.append(Case(f"cp1252_{key}.txt", text=body, title=text.split("\n")[0]))
    zoe = "Zoé\n\nLe conseil municipal a élu Zoé à la tête de la mairie."
    w("utf16_bom.txt", zoe.encode("utf-16"))
    cases.append(Case("utf16_bom.txt", text="élu Zoé à la tête", title="Zoé"))
    # not the same text as utf16_bom.txt: one build indexes an exact duplicate once
    w("utf16_nobom.txt", (zoe + " Sans BOM.").encode("utf-16-le"))
    cases.append(Case("utf16_nobom.txt", text="élu Zoé à la tête", title="Zoé", warned=True))
    w("utf8_bom.md", "\ufeff# Titre avec BOM\n\nUn texte ordinaire.")
    cases.append(Case("utf8_bom.md", text="Un texte ordinaire.", title="Titre avec BOM"))
    w("crlf.txt", "Titre CRLF\r\n\r\nPremière ligne.\r\nSeconde ligne.\r\n")
    cases.append(Case("crlf.txt", text="Première ligne.\nSeconde ligne.", title="Titre CRLF"))
    w(
        "records.jsonl",
        json.dumps({"id": "jl-1", "text": "Premier enregistrement."})
        + "\n"
        + '{"id": "jl-2", "text": "cassé\n'
        + json.dumps({"id": "jl-3", "text": "Troisième enregistrement."})
        + "\n",
    )
    cases.append(Case("records.jsonl", text="Premier enregistrement.", count=2))
    cases.append(Case("records.jsonl", reason="line 2: invalid JSON"))
    w("invalid.json", "{'single': 'quotes'}")
    cases.append(Case("invalid.json", reason="invalid JSON at line 1"))
    w(
        "array.json",
        json.dumps([{"title": "sans texte"}, {"id": "arr-2", "text": "Le bon."}, "x", None]),
    )
    cases.append(Case("array.json", text="Le bon."))
    cases.append(Case("array.json", reason="no 'text'", count=1))
    cases.append(Case("array.json", reason="got str"))
    cases.append(Case("array.json", reason="got NoneType"))
    w("empty_array.json", "[]")
    cases.append(Case("empty_array.json", reason="no records"))
    w("deep.json", "[" * 100_000 + "]" * 100_000)
    cases.append(Case("deep.json", reason="nested too deeply"))
    w(
        "surrogate.jsonl",
        '{"id": "sur-1", "title": "Paire \\ud800 seule", "text": "Texte \\udc00 abîmé."}\n',
    )
    cases.append(Case("surrogate.jsonl", text="Texte \ufffd abîmé.", title="Paire \ufffd"))
    w(
        "twice.jsonl",
        json.dumps({"id": "tw-1", "text": "Une fois."})
        + "\n"
        + json.dumps({"id": "tw-1", "text": "Deux fois."})
        + "\n",
    )
    cases.append(Case("twice.jsonl", text="Une fois."))
    cases.append(Case("twice.jsonl", reason="duplicate id 'tw-1'"))
    w(
        "malformed.html",
        "<html><head><title>Tempête sur Orvalle<body><p>La tempête Ciara a abattu 300 arbres "
        "à Orvalle <b>mardi <i>soir</p><div>les secours sont intervenus 45 fois<p>Aucun blessé",
    )
    secours = "les secours sont intervenus 45 fois"
    cases.append(Case("malformed.html", text=secours, title="Tempête sur Orvalle"))
    w("scripts.html", "<html><script>var a = 1;</script><style>p {}</style></html>")
    cases.append(Case("scripts.html", reason="no text found"))
    w("deep.html", "<div>" * 20_000 + "Tout au fond." + "</div>" * 20_000)
    cases.append(Case("deep.html", text="Tout au fond."))
    _image_only_pdf(folder / "image_only.pdf")
    cases.append(Case("image_only.pdf", reason="no text layer"))
    w("fake.pdf", b"%PDF-1.4\n" + ELF[16:])
    cases.append(Case("fake.pdf", reason="unreadable PDF"))
    w("big.txt", "Gros\n\n" + "x" * 1_200_000)
    cases.append(Case("big.txt", reason="over the 1 MB limit"))
    w("front_matter_only.md", "---\ntitle: Rien\n---\n")
    cases.append(Case("front_matter_only.md", reason="no text found"))
    w("nom avec espaces é ü 漢字.txt", "Unicode\n\nUn nom de fichier exotique.")
    cases.append(Case("nom avec espaces é ü 漢字.txt", text="exotique", title="Unicode"))
    w("nom\navec-retour.txt", "Retour\n\nLe village de Trébas a inauguré une passerelle.")
    cases.append(Case("nom\navec-retour.txt", text="passerelle", title="Retour"))
    w("bad\nname.txt", b"")
    cases.append(Case("bad\nname.txt", reason="empty file"))
    w("esc\x1b[31mape.txt", b"")
    cases.append(Case("esc\x1b[31mape.txt", reason="empty file"))
    raw = os.fsdecode(b"caf\xe9-latin1-name.txt")  # a name that is not UTF-8
    w(raw, "Café\n\nUn nom de fichier en latin-1.")
    cases.append(Case(raw, text="nom de fichier en latin-1", title="Café"))
    deep = "/".join(f"n{i}" for i in range(60))
    w(f"{deep}/profond.txt", "Profond\n\nTrès loin dans les dossiers.")
    cases.append(Case(f"{deep}/profond.txt", text="Très loin", title="Profond"))
    os.mkfifo(folder / "pipe.txt")
    cases.append(Case("pipe.txt", reason="not a regular file"))
    os.symlink("loopA.txt", folder / "loopA.txt")
    cases.append(Case("loopA.txt", reason="symbolic link loop"))
    os.symlink("loop2.md", folder / "loop1.md")
    os.symlink("loop1.md", folder / "loop2.md")
    cases.append(Case("loop1.md", reason="symbolic link loop"))
    cases.append(Case("loop2.md", reason="symbolic link loop"))
    os.symlink("loopdirB", folder / "loopdirA")
    os.symlink("loopdirA", folder / "loopdirB")
    cases.append(Case("loopdirA", reason="symbolic link loop"))
    cases.append(Case("loopdirB", reason="symbolic link loop"))
    os.symlink(".", folder / "selfloop")
    cases.append(Case("selfloop", reason="symbolic link loop"))
    os.symlink("nowhere.txt", folder / "dangling.txt")
    cases.append(Case("dangling.txt", reason="broken symbolic link"))
    w("ok.txt", "Témoin\n\nUn article ordinaire sur la médiathèque de Sorèze.")
    cases.append(Case("ok.txt", text="médiathèque de Sorèze", title="Témoin"))
    w("notes.docx", ELF)  # another type: passed over on purpose, not a case
    w(".cache/hidden.txt", "Caché\n\nNe doit pas être lu.")  # hidden: passed over on purpose
    return cases
