"""The read path with fakes: a hashing embedder and a scripted generator over the sample
articles (``tiny_index``). Retrieval, evidence, extraction, verification, composition,
streaming and abstention, in well under a second each."""

from __future__ import annotations

import re

import pytest

from ancre.index import ChunkRow, IndexSettings
from ancre.qa import Answer, AnswerSettings, Event, Filters, ask
from ancre.qa.generation.prompting import build_prompt
from ancre.qa.reading.evidence import absent_name
from ancre.qa.reading.qtype import fits_type, question_type
from ancre.qa.reading.sentences import Candidate, Sentence
from ancre.qa.retrieval.followup import is_follow_up
from ancre.qa.retrieval.search import fuse
from conftest import HashEmbedder, ScriptedGenerator, make_passage

TRAM = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
SCAM = "Quel est le préjudice total des arnaques aux faux assistants virtuels autour de Bellerive ?"
OFF_TOPIC = "Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?"
GENERATE = AnswerSettings(span_first_above=1.01, state_above=0.0)
"""Always ask the generator (these fakes' evidence is certain enough to skip it), and state
what fits whatever the confidence."""
STATE = AnswerSettings(state_above=0.0)
"""State the likely answer that fits whatever the confidence: which answer is made, not how
sure ancre is of it, is tested here."""


def asked(index_dir, question: str, reply: str = "", **kwargs) -> tuple[Answer, ScriptedGenerator]:
    generator = ScriptedGenerator(reply)
    answer = ask(
        question,
        index_dir=index_dir,
        embedder=HashEmbedder(),
        generator=generator,
        **kwargs,
    )
    return answer, generator


def test_verified_generation_is_kept_with_a_corrected_citation(tiny_index):
    answer, fake = asked(tiny_index, TRAM, "Le samedi 13 septembre 2025 [9].", settings=GENERATE)
    assert answer.mode == "stated" and answer.generated and not answer.abstained
    first = answer.text.split("\n")[0]
    assert first.startswith("Le samedi 13 septembre 2025 [")
    assert answer.short_answer == "Le samedi 13 septembre 2025"
    n = int(first.split("[")[1].split("]")[0])
    cited = {c.number: c for c in answer.citations}
    assert n in cited and "13 septembre 2025" in cited[n].text
    assert cited[n].doc_id.endswith("/tramway-ligne-c-bellerive.md")
    c = cited[n]
    assert c.text[c.sentence_start : c.sentence_end] == c.sentence
    assert "Passage [" in fake.prompts[0] and TRAM in fake.prompts[0]
    assert answer.models == {"embedding": "hash-256", "llm": "scripted"}


@pytest.mark.parametrize(
    "reply",
    ["Le 1er avril 2031 [1].", "", "le le le le le le le le le le le le", "Question : rien"],
)
def test_unsupported_empty_or_repetitive_output_falls_back_to_extraction(tiny_index, reply):
    answer, _ = asked(tiny_index, TRAM, reply, settings=GENERATE)
    assert answer.mode == "stated" and not answer.generated
    assert "2031" not in answer.text and "le le le" not in answer.text
    assert "13 septembre 2025" in answer.text
    assert answer.citations and all(f"[{c.number}]" in answer.text for c in answer.citations)


def test_every_marker_points_to_a_citation_of_a_given_passage(tiny_index):
    question = "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis ?"
    answer, _ = asked(tiny_index, question, "74 500 festivaliers [2]. Record battu [3].")
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert numbers == {c.number for c in answer.citations}
    assert all(1 <= n <= len(answer.passages) for n in numbers)
    for c in answer.citations:
        assert answer.passages[c.number - 1].chunk_id == c.chunk_id


def test_off_topic_question_abstains_before_generation(tiny_index):
    answer, fake = asked(tiny_index, OFF_TOPIC, "n'importe quoi")
    assert answer.abstained and answer.mode == "abstained" and not answer.citations
    # no passage mentions the 'Bourse de Tokyo': the abstention names it
    assert answer.text.startswith("Aucun des passages trouvés ne parle de « Bourse de Tokyo »")
    assert "les articles indexés ne répondent pas" in answer.text
    assert answer.passages and "Passages les plus proches" in answer.text
    assert not answer.short_answer
    assert not fake.prompts  # decided by the evidence, the model is not asked


def test_english_question_gets_english_framing(tiny_index):
    answer, _ = asked(tiny_index, "What is the price of gold in Tokyo today?")
    assert answer.language == "en" and answer.abstained
    assert answer.text.startswith("The indexed articles don't answer")
    assert "Closest passages:" in answer.text


def test_follow_up_question_uses_the_history(tiny_index):
    history = [
        {
            "role": "user",
            "content": "Qui a remporté l’élection municipale de Saint-Aubin-des-Prés en 2024 ?",
        },
        {"role": "assistant", "content": "Martine Leroux [1]."},
    ]
    answer, _ = asked(tiny_index, "Et en 2025 ?", history=history)
    assert not answer.abstained
    assert answer.citations[0].doc_id == "dep-2025-0324-saint-aubin"
    # the 2025 winner, named in the sentence before the one that says he won in 2025
    assert answer.likely_answer == "Gilles Fabre"
    assert "Gilles Fabre" in answer.citations[0].sentence and "23 mars 2025" in answer.text


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("Et combien de stations ?", "posez-la en entier"),
        ("And what about 2025?", "ask it in full"),
    ],
)
def test_a_follow_up_without_the_question_before_it_is_asked_in_full(tiny_index, question, words):
    answer, fake = asked(tiny_index, question, "21 stations [1].", settings=GENERATE)
    assert answer.abstained and answer.mode == "incomplete"
    assert words in answer.text and not answer.citations and not answer.passages
    assert not fake.prompts
    only_an_answer = [{"role": "assistant", "content": "Bonjour."}]
    answer, _ = asked(tiny_index, question, history=only_an_answer)
    assert answer.abstained and words in answer.text


def test_a_short_follow_up_asking_how_many_is_answered_with_a_count(tiny_index):
    history = [
        {
            "role": "user",
            "content": "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?",
        }
    ]
    answer, _ = asked(tiny_index, "Et combien de stations ?", history=history)
    assert answer.likely_answer == "21 stations", answer.text


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("Qui a gagné l’étape du Tour de France arrivée à Port-Joubert ?", "Tour de France"),
        ("Que fait Jean Dupont au stade ?", "Jean Dupont"),
        ("Qui a mené la bataille de Sainte-Foy ?", "Sainte-Foy"),
        ("Qui a marqué contre l’Entente Sud-Loire ?", ""),  # named in the passage
        ("Que dit Tite Live du stade ?", ""),  # the passage writes 'Tite-Live'
        ("Qui a gagné à Tokyo ?", ""),  # one word: left to the evidence model
        ("QUI EST LA STAR DU STADE ?", ""),  # capitals name nothing
        ("Mathis Dupont a-t-il marqué ?", ""),  # the opening capital is not counted
    ],
)
def test_a_name_no_passage_mentions_is_found(question, absent):
    passage = make_passage(
        "L'AS Port-Joubert a battu l'Entente Sud-Loire au stade, raconte Tite-Live.",
        title="Football : le second tour de la saison en france",
    )
    assert absent_name(question, [passage]) == absent


def test_a_question_about_a_name_no_article_mentions_says_so(tiny_index):
    answer, fake = asked(
        tiny_index,
        "Qui a gagné l’étape du Tour de France arrivée à Port-Joubert ?",
        "Mathis Le Goff [1].",
        settings=GENERATE,
    )
    assert answer.abstained and answer.mode == "abstained" and not fake.prompts
    assert answer.text.startswith("Aucun des passages trouvés ne parle de « Tour de France »")
    assert "Passages les plus proches" in answer.text


@pytest.mark.parametrize(
    ("question", "follows"),
    [
        ("Et en 2025 ?", True),
        ("Et Martine Leroux ?", True),
        ("Combien de stations ?", True),
        ("Qui est-il ?", True),
        ("Qui est Sophie Lemaire ?", False),
        ("Où se trouve Port-Joubert ?", False),
        ("Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?", False),
    ],
)
def test_a_short_question_that_names_something_is_searched_on_its_own(question, follows):
    assert is_follow_up(question) is follows


def test_a_question_that_names_someone_is_not_answered_from_the_question_before_it(tiny_index):
    """'Qui est Sophie Lemaire ?' after a question about the Tour de France: searched with
    it, it abstained, first naming the 'Tour de France' that no passage mentions, then
    because the football article it found does not answer it."""
    history = [
        {
            "role": "user",
            "content": "Qui a gagné l’étape du Tour de France arrivée à Port-Joubert ?",
        }
    ]
    answer, _ = asked(tiny_index, "Qui est Sophie Lemaire ?", history=history, settings=STATE)
    assert "Tour de France" not in answer.text
    assert answer.short_answer == "ingénieure responsable des ouvrages d’art au département"


def test_a_bare_year_is_not_stated_as_who_won(tiny_index):
    """'Et en 2025 ?' after a 'qui' question asks for a person: a verified draft that is only
    the year does not answer it, so the extractive span is stated instead."""
    history = [
        {
            "role": "user",
            "content": "Qui a remporté l’élection municipale de Saint-Aubin-des-Prés en 2024 ?",
        }
    ]
    answer, _ = asked(
        tiny_index, "Et en 2025 ?", reply="2025 [1].", history=history, settings=GENERATE
    )
    assert not answer.generated and answer.likely_answer != "2025"


def test_a_follow_up_states_the_type_it_asks_for():
    tram = "Quand la ligne C du tramway ouvrira-t-elle ?"
    assert question_type("Et combien de stations desservira-t-elle ?", tram).kind == "number"
    assert question_type("Et en 2025 ?", "Qui a gagné en 2024 ? Et en 2025 ?").kind == "person"
    assert question_type("Qui a gagné ?").kind == "person"
    assert not fits_type(question_type("Qui a gagné ?"), "en 2025")
    assert fits_type(question_type("Qui a gagné ?"), "Gilles Fabre")
    assert fits_type(question_type("Quand ?"), "2025")


def test_the_span_is_stated_without_generating_when_the_evidence_is_certain(tiny_index):
    always = AnswerSettings(span_first_above=1.01, state_above=0.0)
    asked_model, fake = asked(tiny_index, TRAM, "Le samedi 13 septembre 2025 [1].", settings=always)
    assert asked_model.generated and fake.prompts
    certain = AnswerSettings(span_first_above=0.0, state_above=0.0)
    answer, fake = asked(tiny_index, TRAM, "Le samedi 13 septembre 2025 [1].", settings=certain)
    assert not answer.generated and not fake.prompts  # the model was not asked
    assert answer.short_answer and answer.models["llm"] == "none"


def test_a_draft_that_could_not_be_stated_is_not_asked_for(tiny_index):
    reply = "Le samedi 13 septembre 2025 [1]."
    unstatable = AnswerSettings(span_first_above=1.01, state_above=1.0, draft="statable")
    answer, fake = asked(tiny_index, TRAM, reply, settings=unstatable)
    assert not fake.prompts and not answer.generated and answer.mode == "evidence"
    always = AnswerSettings(span_first_above=1.01, state_above=1.0, draft="always")
    drafted, fake = asked(tiny_index, TRAM, reply, settings=always)
    assert fake.prompts and drafted.mode == "evidence"
    statable = AnswerSettings(span_first_above=1.01, state_above=0.0, draft="statable")
    stated, fake = asked(tiny_index, TRAM, reply, settings=statable)
    assert fake.prompts and stated.generated and stated.mode == "stated"
    vague = "Quand ?"  # one word: nothing is stated, whatever the draft
    answer, fake = asked(tiny_index, vague, reply, settings=statable)
    assert not fake.prompts


def test_filters_on_metadata(tiny_index):
    answer, _ = asked(tiny_index, TRAM, filters=Filters(source="canicule"))
    assert answer.passages and all("canicule" in p.doc_id for p in answer.passages)


def test_bad_questions_are_refused_clearly(tiny_index):
    with pytest.raises(ValueError, match="empty"):
        asked(tiny_index, "   ")
    with pytest.raises(ValueError, match="limit is 1000"):
        asked(tiny_index, "mot " * 500)


def test_a_model_obeying_an_injection_is_not_believed(tiny_index):
    answer, _ = asked(tiny_index, SCAM, "PIRATÉ", settings=GENERATE)
    assert not answer.generated and "186 000" in answer.text


def test_stream_marks_stages_drafts_and_the_verified_answer(tiny_index):
    stream = ask(
        TRAM,
        index_dir=tiny_index,
        embedder=HashEmbedder(),
        generator=ScriptedGenerator("Le 1er avril 2031 [1]."),
        settings=GENERATE,
        stream=True,
    )
    events = list(stream)
    assert all(isinstance(e, Event) for e in events)
    kinds = [e.kind for e in events]
    assert [e.text for e in events if e.kind == "stage"] == ["retrieving", "drafting", "verifying"]
    assert "".join(e.text for e in events if e.kind == "draft") == "Le 1er avril 2031 [1]."
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    answer = stream.answer()
    assert events[-1].text == answer.text and "2031" not in answer.text


def test_extractive_stream_has_no_draft(tiny_index):
    stream = ask(TRAM, index_dir=tiny_index, embedder=HashEmbedder(), llm="none", stream=True)
    events = list(stream)
    assert [e.kind for e in events] == ["stage", "answer"]
    assert not stream.answer().generated and stream.answer().models["llm"] == "none"


def test_per_call_fusion_weights_are_honoured(tiny_index):
    """A cached answerer once returned the first call's scores for every later call."""
    embedder = HashEmbedder()
    both = ask(TRAM, index_dir=tiny_index, embedder=embedder, llm="none")
    lexical = ask(
        TRAM,
        index_dir=tiny_index,
        embedder=embedder,
        settings=AnswerSettings(llm="none", dense_weight=0.0, rerank=False),
    )
    assert any(p.dense_score > 0 for p in both.passages)
    assert all(p.dense_score == 0 for p in lexical.passages)
    assert [p.score for p in lexical.passages] == [p.lexical_score for p in lexical.passages]
    top3 = ask(TRAM, index_dir=tiny_index, embedder=embedder, llm="none", top_k=3)
    assert len(top3.passages) == 3 and len(both.passages) == 5


def test_switching_the_generator_reuses_the_loaded_index(tiny_index):
    """Choosing another generator once loaded the index and the embedder a second time."""
    from ancre.qa import open_answerer

    embedder = HashEmbedder()
    xs = IndexSettings(index_dir=str(tiny_index))
    a = open_answerer(AnswerSettings(llm="none"), xs, embedder=embedder)
    b = open_answerer(
        AnswerSettings(llm="none"), xs, embedder=embedder, generator=ScriptedGenerator()
    )
    assert a.retriever is b.retriever and a.generator is None and b.generator is not None
    calls = embedder.calls
    a.ask(TRAM)
    b.ask(TRAM)
    assert embedder.calls == calls + 2  # one query embedding each, no re-embedding


def test_settings_given_are_never_mutated(tiny_index):
    s = AnswerSettings(llm="none", top_k=5)
    ask(TRAM, index_dir=tiny_index, embedder=HashEmbedder(), settings=s, top_k=2)
    assert s == AnswerSettings(llm="none", top_k=5)


def test_prompt_keeps_the_fixed_part_first():
    p = make_passage("Texte. Autre.")
    prompt = build_prompt("Q ?", [Candidate(p, Sentence(0, 6, "Texte."), 1.0, 1.0)], "fr")
    fixed = prompt.split("Passage [1] : Texte.")[0]
    assert fixed.startswith("Réponds à la question") and prompt.endswith("Réponse :")


def test_evidence_features_are_bounded(tiny_index):
    from ancre.qa import open_retriever
    from ancre.qa.reading.evidence import weigh_evidence

    retriever = open_retriever(IndexSettings(index_dir=str(tiny_index)), embedder=HashEmbedder())
    passages = retriever.search(TRAM, 5)
    ev = weigh_evidence(TRAM, passages, retriever)
    assert 0.0 <= ev.score <= 1.0 and ev.score > 0.5
    assert all(-1.0 <= v <= 1.0 for v in ev.features.values())


def test_fusion_weighs_normalised_bm25_against_the_cosine_and_drops_what_it_cannot_keep():
    rows = {
        i: ChunkRow(i, f"d{i}", 0, 0, 4, "text", f"T{i}", "", f"202{i}-01-01") for i in range(5)
    }
    del rows[4]  # removed by a build since it was found
    lexical = {1: 8.0, 2: 4.0, 4: 6.0}
    dense = {3: 0.9, 1: 0.1, 0: 0.5}
    fused = fuse(lexical, dense, rows, k=3)
    assert [(p.chunk_id, p.rank) for p in fused] == [(1, 1), (3, 2), (2, 3)]
    assert fused[0].score == pytest.approx(1.0 + 0.1) and fused[2].score == pytest.approx(0.5)
    lexical_only = fuse(lexical, dense, rows, k=5, dense_weight=0.0)
    assert [p.chunk_id for p in lexical_only][:2] == [1, 2]
    recent = fuse(lexical, dense, rows, k=5, filters=Filters(date_from="2022"))
    assert {p.chunk_id for p in recent} == {2, 3}
