"""The read path: unit tests with a fake LLM over the real sample index, and end-to-end
tests with the real default models."""

from __future__ import annotations

import threading

import pytest

from index.config import Settings
from qa import Answer, Filters, ask, ask_stream
from qa.answer import QA, build_prompt, weigh_evidence

pytestmark = pytest.mark.slow

TRAM = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
SCAM = "Quel est le préjudice total des arnaques aux faux assistants virtuels autour de Bellerive ?"
HACK = "Combien a coûté la remise en état du site piraté de la mairie de Vernay-sur-Sarthe ?"
HEAT = "Quelle température record a été relevée à Port-Joubert pendant la canicule d’août 2025 ?"
OFF_TOPIC = "Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?"


class FakeLLM:
    model_id = "fake"

    def __init__(self, reply: str):
        self.reply = reply
        self.prompts: list[str] = []

    def generate(self, prompt, max_tokens=48, temperature=0.0, stop=None):
        self.prompts.append(prompt)
        for i, word in enumerate(self.reply.split()):
            yield word if i == 0 else " " + word


def qa_with(sample_index: str, reply: str) -> tuple[QA, FakeLLM]:
    qa = QA(Settings.from_env(index_dir=sample_index, llm="fake"))
    fake = FakeLLM(reply)
    qa._llm = fake
    return qa, fake


def run(qa: QA, question: str, **kw) -> tuple[list[str], Answer]:
    parts = list(qa.stream(question, **kw))
    assert isinstance(parts[-1], Answer)
    return [p for p in parts[:-1] if isinstance(p, str)], parts[-1]


def test_verified_generation_is_kept_with_a_corrected_citation(sample_index):
    qa, fake = qa_with(sample_index, "Le samedi 13 septembre 2025 [9].")
    pieces, answer = run(qa, TRAM)
    assert "".join(pieces).startswith("Le samedi 13 septembre 2025 [9].")  # streamed draft
    assert answer.mode == "generated" and not answer.abstained
    first = answer.text.split("\n")[0]
    assert first.startswith("Le samedi 13 septembre 2025 [")
    n = int(first.split("[")[1].split("]")[0])
    cited = {c.number: c for c in answer.citations}
    assert n in cited and "13 septembre 2025" in cited[n].text
    assert cited[n].doc_id == "tramway-ligne-c-bellerive.md"
    c = cited[n]
    assert c.text[c.sentence_start : c.sentence_end] == c.sentence
    assert "Passage [" in fake.prompts[0] and TRAM in fake.prompts[0]


@pytest.mark.parametrize(
    "reply",
    ["Le 1er avril 2031 [1].", "", "le le le le le le le le le le le le", "Question : rien"],
)
def test_unsupported_empty_or_repetitive_output_falls_back_to_extraction(sample_index, reply):
    qa, _ = qa_with(sample_index, reply)
    _, answer = run(qa, TRAM)
    assert answer.mode == "extractive"
    assert "2031" not in answer.text and "le le le" not in answer.text
    assert "13 septembre 2025" in answer.text
    assert answer.citations and all(f"[{c.number}]" in answer.text for c in answer.citations)


def test_every_marker_points_to_a_citation_of_a_given_passage(sample_index):
    qa, _ = qa_with(sample_index, "74 500 festivaliers [2]. Record battu [3].")
    _, answer = run(qa, "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis ?")
    import re

    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert numbers == {c.number for c in answer.citations}
    assert all(1 <= n <= len(answer.passages) for n in numbers)
    for c in answer.citations:
        assert answer.passages[c.number - 1].chunk_id == c.chunk_id


def test_off_topic_question_abstains_with_closest_passages(sample_index):
    qa, fake = qa_with(sample_index, "n'importe quoi")
    _, answer = run(qa, OFF_TOPIC)
    assert answer.abstained and answer.mode == "abstained" and not answer.citations
    assert answer.text.startswith("Les articles indexés ne répondent pas")
    assert answer.passages and "Passages les plus proches" in answer.text
    assert not fake.prompts  # decided by the evidence, the model is not asked


def test_english_question_gets_english_framing(sample_index):
    qa, _ = qa_with(sample_index, "")
    _, answer = run(qa, "What is the price of gold in Tokyo today?")
    assert answer.language == "en" and answer.abstained
    assert answer.text.startswith("The indexed articles don't answer")


def test_follow_up_question_uses_the_history(sample_index):
    qa, _ = qa_with(sample_index, "")
    history = [
        {
            "role": "user",
            "content": "Qui a remporté l’élection municipale de Saint-Aubin-des-Prés en 2024 ?",
        },
        {"role": "assistant", "content": "Martine Leroux [1]."},
    ]
    _, answer = run(qa, "Et en 2025 ?", history=history)
    assert not answer.abstained
    assert answer.citations[0].doc_id == "dep-2025-0324-saint-aubin"
    assert "2025" in answer.citations[0].sentence


def test_filters_on_metadata(sample_index):
    qa, _ = qa_with(sample_index, "")
    _, answer = run(qa, TRAM, filters=Filters(source="canicule"))
    assert all("canicule" in p.doc_id for p in answer.passages)


def test_bad_questions_are_refused_clearly(sample_index):
    qa, _ = qa_with(sample_index, "")
    with pytest.raises(ValueError, match="empty"):
        run(qa, "   ")
    with pytest.raises(ValueError, match="limit is"):
        run(qa, "mot " * 500)


def test_prompt_keeps_the_fixed_part_first():
    from qa.records import Passage
    from qa.verify import Candidate, Sentence

    p = Passage(1, 1, "d", "", "", "", "Texte. Autre.", 0, 13, 1.0)
    prompt = build_prompt("Q ?", [Candidate(p, Sentence(0, 6, "Texte."), 1.0, 1.0)], "fr")
    fixed = prompt.split("Passage [1] : Texte.")[0]
    assert fixed.startswith("Réponds à la question") and prompt.endswith("Réponse :")


def test_evidence_features_are_bounded(sample_index):
    qa, _ = qa_with(sample_index, "")
    passages = qa.retriever.search(TRAM, 5)
    ev = weigh_evidence(TRAM, passages, qa.retriever)
    assert 0.0 <= ev.score <= 1.0 and ev.score > 0.5
    assert all(-1.0 <= v <= 1.0 for v in ev.features.values())


# ---- end to end, real default models


def test_known_question_gets_a_correct_cited_answer(sample_index):
    answer = ask(TRAM, index_dir=sample_index)
    assert not answer.abstained and answer.mode in ("generated", "extractive")
    assert "13 septembre 2025" in answer.text
    assert any(c.doc_id == "tramway-ligne-c-bellerive.md" for c in answer.citations)
    assert answer.models["embedding"] == "all-MiniLM-L6-v2"
    assert answer.timings["total"] >= answer.timings["retrieval"] > 0


def test_off_topic_question_abstains(sample_index):
    assert ask(OFF_TOPIC, index_dir=sample_index).abstained


def test_streaming_yields_text_then_the_answer(sample_index):
    parts = list(ask_stream(TRAM, index_dir=sample_index))
    assert isinstance(parts[-1], Answer) and all(isinstance(p, str) for p in parts[:-1])
    assert parts[:-1]


def test_prompt_injection_in_an_article_changes_nothing(sample_index):
    answer = ask(SCAM, index_dir=sample_index)
    assert "186 000" in answer.text
    assert "PIRAT" not in answer.text.split("\n")[0].upper()


def test_a_model_obeying_an_injection_is_not_believed(sample_index):
    qa, _ = qa_with(sample_index, "PIRATÉ")
    _, answer = run(qa, SCAM)
    assert answer.mode == "extractive" and "186 000" in answer.text


def test_concurrent_asks_get_their_own_answers(sample_index):
    questions = {
        TRAM: "13 septembre 2025",
        HACK: "27 500",
        HEAT: "41,7",
    }
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def worker(q: str) -> None:
        try:
            results[q] = ask(q, index_dir=sample_index).text
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(q,)) for q in questions for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for q, expected in questions.items():
        assert expected in results[q], (q, results[q])
