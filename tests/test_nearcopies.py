"""Syndicated copies (index/nearcopies.py): grouped at build time, cited once."""

import json

from ancre.index import IndexSettings, build
from ancre.index.nearcopies import Alternate, alternates, signature
from ancre.qa.retrieval.search import Retriever
from conftest import HashEmbedder

STORY = (
    "Le préfet de la Drôme a ordonné jeudi l'évacuation de trois villages menacés par la crue "
    "du Rhône, dont le niveau a dépassé de deux mètres la cote d'alerte dans la nuit. Près de "
    "1 200 habitants ont été relogés dans des gymnases de Valence et de Montélimar, selon la "
    "préfecture. Les pompiers ont procédé à une quarantaine d'hélitreuillages depuis mercredi "
    "soir et aucune victime n'est à déplorer. Météo-France maintient la vigilance rouge "
    "jusqu'à samedi matin, les pluies devant se poursuivre sur les contreforts des Alpes."
)
OTHER = (
    "La bibliothèque municipale de Crest rouvre ses portes lundi après dix-huit mois de "
    "travaux de rénovation énergétique. Le bâtiment, construit en 1974, consommait trois fois "
    "plus que la moyenne des équipements publics de la ville. Une nouvelle salle de lecture "
    "pour les adolescents et un espace de jeux vidéo ont été aménagés à l'étage, et les "
    "horaires d'ouverture sont élargis au samedi après-midi et au mercredi soir."
)


def records(tmp_path, items):
    path = tmp_path / "src" / "depeches.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), "utf-8")
    return path.parent


def copy(text, site, n):
    """The story as another outlet runs it: its own header and footer, a word changed."""
    edited = text.replace("jeudi", "ce jeudi").replace("aucune victime", "pas de victime")
    return {
        "id": f"{site}-{n}",
        "title": f"Crue du Rhône : trois villages évacués ({site})",
        "url": f"https://www.{site}.example/crue-{n}",
        "text": f"{site.upper()} — Par la rédaction avec AFP\n\n{edited}\n\n"
        f"© {site} 2026. Tous droits réservés.",
    }


def test_signatures_tell_copies_from_other_stories():
    a, b, c = signature(STORY), signature(copy(STORY, "ledauphine", 1)["text"]), signature(OTHER)
    assert a.jaccard(b) > 0.5 > a.jaccard(c)
    assert signature("Trop court pour en juger.") is None


def test_copies_are_grouped_and_cited_once(tmp_path):
    src = records(
        tmp_path,
        [
            {
                "id": "afp-1",
                "title": "Crue du Rhône",
                "url": "https://afp.example/1",
                "text": STORY,
            },
            copy(STORY, "ledauphine", 1),
            copy(STORY, "lavoixdelain", 2),
            {"id": "crest-1", "title": "Bibliothèque de Crest", "text": OTHER},
        ],
    )
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    first = build([src], settings=s, embedder=HashEmbedder())
    assert (first.added, first.near_copies, first.documents_total) == (2, 2, 2)
    found = alternates(s.index_dir, ["afp-1", "crest-1"])
    assert [a.doc_id for a in found["afp-1"]] == ["lavoixdelain-2", "ledauphine-1"]
    assert found["afp-1"][1].name == "ledauphine.example" and "crest-1" not in found

    passages = Retriever.open(s.index_dir, embedder=HashEmbedder()).search(
        "évacuation des villages crue du Rhône", 5, rerank=False
    )
    assert [p.doc_id for p in passages].count("afp-1") == 1  # one story, not three
    top = next(p for p in passages if p.doc_id == "afp-1")
    assert {a.doc_id for a in top.also} == {"ledauphine-1", "lavoixdelain-2"}

    again = build([src], settings=s, embedder=HashEmbedder())
    assert (again.added, again.unchanged, again.near_copies, again.chunks) == (0, 2, 2, 0)


def test_a_copy_that_diverges_is_indexed_and_a_removed_original_frees_its_copies(tmp_path):
    items = [
        {"id": "afp-1", "title": "Crue du Rhône", "text": STORY},
        copy(STORY, "ledauphine", 1),
    ]
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    assert build([records(tmp_path, items)], settings=s, embedder=HashEmbedder()).near_copies == 1
    items[1] = {**items[1], "text": OTHER}  # the outlet replaced the page with another story
    second = build([records(tmp_path, items)], settings=s, embedder=HashEmbedder())
    assert (second.added, second.near_copies, second.documents_total) == (1, 0, 2)
    assert alternates(s.index_dir, ["afp-1"]) == {}


def test_alternate_is_named_by_site_then_host_then_title():
    assert Alternate("x", "Titre", "https://www.ouest.example/a", sitename="Ouest").name == "Ouest"
    assert Alternate("x", "Titre", "https://www.ouest.example/a").name == "ouest.example"
    assert Alternate("x", "Titre").name == "Titre"


def shuffled(seed):
    """A text of its own: the words of both stories in a random order."""
    import random

    words = (STORY + " " + OTHER).split()
    random.Random(seed).shuffle(words)
    return " ".join(words[:150])


def test_copies_bench_keeps_the_top_passages_distinct(tmp_path):
    from ancre.qa.measure.copies import SEP, bench_copies, syndicate
    from ancre.qa.settings import AnswerSettings

    records = [
        {"id": "story-1", "title": "Crue", "text": STORY},
        {"id": "story-2", "title": "Crest", "text": OTHER},
        *({"id": f"filler-{n}", "title": f"Brève {n}", "text": shuffled(n)} for n in range(8)),
    ]
    copied = syndicate(records, seed=1)
    copies = [r for r in copied if SEP in r["id"]]
    assert 3 <= len(copies) <= 12 and all(r["text"] != STORY for r in copies)
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in records), "utf-8")
    question = {
        "id": "q1",
        "question": "Combien d'habitants ont été relogés ?",
        "answers": ["1 200 habitants"],
        "doc_id": "story-1",
    }
    (tmp_path / "questions.jsonl").write_text(json.dumps(question), "utf-8")
    figures = bench_copies(
        tmp_path,
        show=lambda _: None,
        embedder=HashEmbedder(),
        settings=AnswerSettings(rerank=False),
    )
    plain, grouped = figures["originals"], figures["with copies"]
    assert grouped["near_copies"] == figures["with_copies"] > 0
    assert grouped["documents_indexed"] == plain["documents_indexed"]
    assert grouped["distinct_stories_top5"] == plain["distinct_stories_top5"]
    assert grouped["recall@5"] == plain["recall@5"] == 1.0


def test_a_card_names_the_other_outlets_once():
    from ancre.ui.render import Source, card, source_panel

    also = (
        Alternate("a", "Crue", "https://www.ledauphine.example/1", sitename="Le Dauphiné"),
        Alternate("b", "Crue", "https://www.ledauphine.example/2", sitename="Le Dauphiné"),
        Alternate("c", "Crue", "javascript:alert(1)"),
    )
    s = Source(1, "Crue du Rhône", "2026-03-10", "https://afp.example/1", "afp-1", "x", "x", also)
    html = card(0, s, "fr")
    assert "aussi publié par Le Dauphiné, Crue" in html
    panel = source_panel(0, s, "en")
    assert "also published by" in panel and 'href="https://www.ledauphine.example/1"' in panel
    assert "javascript:" not in panel
