"""The article of a web page (index/webpage.py), one small page of our own per pitfall."""

import json

import pytest

from ancre.index.loaders import Skipped, load_sources
from ancre.index.webpage import drop_boilerplate, read_article

FR_BODY = [
    "Le conseil municipal de Bellerive a voté mardi soir le prolongement de la ligne C du "
    "tramway jusqu'au quartier des Tanneurs, un chantier de 48 millions d'euros.",
    "Les travaux commenceront au printemps 2027 et dureront deux ans, selon la maire, qui "
    "promet de limiter la gêne pour les commerçants de l'avenue Jean-Jaurès.",
    "L'opposition a dénoncé un coût sous-estimé et réclame une étude indépendante avant le "
    "premier coup de pioche, prévu après les élections municipales.",
]
EN_BODY = [
    "The harbour authority of Port Alder approved on Tuesday a plan to dredge the eastern "
    "channel, a project expected to cost 12 million pounds over three years.",
    "Fishermen welcomed the decision, saying that silt had made the channel impassable at low "
    "tide for most of the winter and cost them weeks of work.",
    "Environmental groups asked for a survey of the seagrass beds before any work begins, and "
    "the authority agreed to publish one by the end of the summer.",
]


def page(
    body: list[str],
    *,
    lang="fr",
    title="Le tramway ira jusqu'aux Tanneurs",
    before="",
    after="",
    wrap=("<article>", "</article>"),
    head="",
) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in body)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}'
        f" | La Gazette</title>{head}</head><body>"
        '<header><nav><ul><li><a href="/">Accueil</a></li><li><a href="/sport">Sport</a></li>'
        '<li><a href="/culture">Culture</a></li></ul></nav></header>'
        f"{before}{wrap[0]}<h1>{title}</h1>{paragraphs}{wrap[1]}{after}"
        "<footer><p>Mentions légales · Plan du site · Contact</p></footer></body></html>"
    )


def assert_article(text: str, body: list[str]) -> None:
    for p in body:
        assert p in text
    assert "Plan du site" not in text and "Accueil" not in text


def test_french_page_metadata_and_paragraphs():
    head = (
        '<meta name="author" content="Claire Dumas">'
        '<meta property="og:site_name" content="La Gazette de Bellerive">'
        '<link rel="canonical" href="https://gazette.example/tram-tanneurs">'
        '<meta property="article:published_time" content="2026-03-10T18:00:00+01:00">'
    )
    art = read_article(page(FR_BODY, head=head))
    assert_article(art.text, FR_BODY)
    assert art.text.split("\n\n") == FR_BODY  # one paragraph each, the headline left out
    assert art.title.startswith("Le tramway ira jusqu'aux Tanneurs")
    assert (art.author, art.sitename) == ("Claire Dumas", "La Gazette de Bellerive")
    assert art.url == "https://gazette.example/tram-tanneurs"
    assert art.date == "2026-03-10"
    assert art.language == "fr"
    assert art.extractor == "trafilatura"


def test_metadata_a_page_states_in_json_ld_or_only_in_its_link():
    """JSON-LD gives the author and the date; a page naming no site gets its link's host."""
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Le tramway ira jusqu'aux Tanneurs",
        "datePublished": "2026-03-11T08:00:00+01:00",
        "author": {"@type": "Person", "name": "Paul Renaud"},
    }
    head = (
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        '<link rel="canonical" href="https://www.gazette.example/tram">'
    )
    art = read_article(page(FR_BODY, head=head))
    assert (art.author, art.date) == ("Paul Renaud", "2026-03-11")
    assert (art.url, art.sitename) == ("https://www.gazette.example/tram", "gazette.example")
    bare = read_article(page(FR_BODY), url="https://x.example/a")
    assert (bare.url, bare.sitename) == ("https://x.example/a", "x.example")


def test_english_page():
    art = read_article(page(EN_BODY, lang="en-GB", title="Port Alder to dredge its channel"))
    assert_article(art.text, EN_BODY)
    assert art.language == "en"


def test_page_inside_an_aspnet_form():
    """Whole news sites are one <form runat=server>: the article is inside it."""
    html = page(
        FR_BODY,
        wrap=(
            '<form method="post" action="./article.aspx" id="form1">'
            '<input type="hidden" name="__VIEWSTATE" value="/wEPDwUKLTk2"><div class="content">',
            "</div></form>",
        ),
    )
    art = read_article(html)
    for p in FR_BODY:
        assert p in art.text


def test_cookie_banner_is_left_out():
    banner = (
        '<div id="cookie-consent" class="cookie-banner"><p>Nous utilisons des cookies pour '
        "améliorer votre expérience et mesurer l'audience. En poursuivant votre navigation, "
        "vous acceptez leur utilisation.</p><button>Accepter</button></div>"
    )
    art = read_article(page(FR_BODY, before=banner))
    assert_article(art.text, FR_BODY)
    assert "cookies" not in art.text


def test_related_links_are_left_out():
    related = (
        '<aside class="related"><h2>À lire aussi</h2><ul>'
        '<li><a href="/a">Le budget de la ville adopté sans surprise</a></li>'
        '<li><a href="/b">Travaux : la rue Pasteur fermée jusqu\'en juin</a></li></ul></aside>'
    )
    inline = "<p>À lire aussi : Le budget de la ville adopté sans surprise</p>"
    art = read_article(page(FR_BODY, after=related))
    assert_article(art.text, FR_BODY)
    assert "rue Pasteur" not in art.text
    assert "budget" not in art.text
    art = read_article(page([FR_BODY[0], FR_BODY[1]], after=inline + f"<p>{FR_BODY[2]}</p>"))
    assert "budget" not in art.text


def test_comments_are_left_out():
    comments = (
        '<section id="comments" class="comments"><h2>3 commentaires</h2>'
        '<div class="comment"><p class="comment-author">Jeannot42</p><p>Encore de l\'argent '
        "jeté par les fenêtres, comme d'habitude dans cette ville.</p></div>"
        '<div class="comment"><p class="comment-author">Marie</p><p>Enfin une bonne nouvelle '
        "pour le quartier des Tanneurs, il était temps !</p></div></section>"
    )
    art = read_article(page(FR_BODY, after=comments))
    assert_article(art.text, FR_BODY)
    assert "Jeannot42" not in art.text and "fenêtres" not in art.text


def test_paywall_teaser_keeps_the_free_part_only():
    teaser = (
        '<div class="paywall"><p>Pour lire la suite de cet article, abonnez-vous à partir de '
        '1 € le premier mois.</p><a href="/abonnement">Je m\'abonne</a></div>'
    )
    art = read_article(page(FR_BODY[:2], after=teaser))
    assert_article(art.text, FR_BODY[:2])
    assert "abonnez-vous" not in art.text


def test_a_page_trafilatura_cannot_read_is_read_by_ancre():
    """A <title> never closed swallows the page for lxml: ancre's reader still finds it."""
    art = read_article(
        "<html><head><title>Tempête sur Orvalle<body><p>La tempête a abattu 300 arbres."
        "<div>Les secours sont intervenus 45 fois"
    )
    assert art.extractor == "ancre"
    assert art.title == "Tempête sur Orvalle"
    assert art.text == "La tempête a abattu 300 arbres.\n\nLes secours sont intervenus 45 fois"


def test_boilerplate_openings_need_a_word_boundary():
    text = "Subscribers will get refunds.\n\nSubscribe to our newsletter\n\n© 2026 La Gazette"
    assert drop_boilerplate(text) == "Subscribers will get refunds."
    assert drop_boilerplate("Lire aussi : x") == "Lire aussi : x"  # never empties a page


def test_loader_indexes_the_article_with_site_and_language(tmp_path):
    (tmp_path / "tram.html").write_text(
        page(FR_BODY, head='<meta property="og:site_name" content="La Gazette">'), "utf-8"
    )
    (doc,) = [d for d in load_sources([tmp_path]) if not isinstance(d, Skipped)]
    assert doc.text.split("\n\n") == FR_BODY
    assert doc.metadata == {"sitename": "La Gazette", "language": "fr"}


def test_html_bench_counts_like_the_corpus_scorer(tmp_path):
    from ancre.qa.measure.htmlbench import bench_html

    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "a.html").write_text(page(FR_BODY), "utf-8")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "b.html").write_text("<html><body><script>var a;</script></body></html>")
    data = {
        "https://a": {
            "file": "a.html",
            "with": [FR_BODY[0][:40], "absent"],
            "without": ["Plan du site"],
        },
        "https://b": {"file": "b.html", "with": ["Menu"], "without": ["nothing"]},
    }
    (tmp_path / "evaldata.json").write_text(json.dumps(data))
    lines = []
    rows = bench_html(tmp_path, show=lines.append)
    new, old = rows
    assert (new["recall"], new["precision"]) == (pytest.approx(1 / 3, abs=1e-4), 1.0)
    assert new["boilerplate_kept"] == 0.0 and new["refused"] == 1
    assert old["recall"] == pytest.approx(1 / 3, abs=1e-4) and old["refused"] == 1
    assert any("refused" in line and "https://b" in line for line in lines)
