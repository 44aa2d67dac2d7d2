"""`ancre eval`: question readers, metrics, summary, comparison, calibration and
``evaluate`` itself over the tiny index with fakes; one end-to-end CLI run on a tiny SQuAD
file with the real embedding model (slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ancre.qa import Answerer, AnswerSettings, Citation, Retriever
from ancre.qa.measure import calibrate, metrics, report
from ancre.qa.measure.evaluate import evaluate, index_info
from ancre.qa.measure.metrics import Row, summarize
from ancre.qa.measure.questions import (
    Question,
    in_split,
    load_questions,
    read_questions,
    sample,
    split_of,
    write_corpus,
)
from conftest import HashEmbedder, ScriptedGenerator, make_passage

TRAM = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
FESTIVAL = "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis en 2025 ?"
OFF_TOPIC = "Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?"

SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Pont suspendu de Montclar",
            "paragraphs": [
                {
                    "context": "Le pont suspendu de Montclar-sur-Vienne a rouvert en juin "
                    "après deux ans de travaux. La rénovation a coûté 8,6 millions "
                    "d'euros, financés par le département.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Combien a coûté la rénovation du pont "
                            "suspendu de Montclar ?",
                            "answers": [{"text": "8,6 millions d'euros", "answer_start": 91}],
                            "is_impossible": False,
                        },
                    ],
                },
                {
                    "context": "Le pont, long de 180 mètres, avait été fermé en 2022 après "
                    "l'inspection d'un câble porteur.",
                    "qas": [
                        {
                            "id": "q2",
                            "question": "Quelle est la longueur du pont ?",
                            "answers": [{"text": "180 mètres", "answer_start": 17}],
                        },
                        {
                            "id": "q3",
                            "question": "Combien coûte le péage du pont ?",
                            "answers": [],
                            "plausible_answers": [{"text": "2 euros"}],
                            "is_impossible": True,
                        },
                    ],
                },
            ],
        },
        {
            "title": "Festival Rives & Rythmes",
            "paragraphs": [
                {
                    "context": "Le festival Rives & Rythmes a accueilli 74 500 festivaliers "
                    "en 2025 sur les quais de Bellerive, un record.",
                    "qas": [
                        {
                            "id": "q4",
                            "question": "Combien de festivaliers le festival Rives "
                            "et Rythmes a-t-il accueillis ?",
                            "answers": [{"text": "74 500", "answer_start": 38}],
                        },
                    ],
                },
            ],
        },
    ],
}


def _cite(text: str) -> Citation:
    return Citation(1, "d", "t", "", "", 1, text, text, 0, len(text))


# ---- normalisation and hits


def test_contains_answer_folds_case_accents_apostrophes_and_spaces():
    assert metrics.contains_answer("Le coût : 8,6 MILLIONS  d’EUROS.", ["8,6 millions d'euros"])
    assert metrics.contains_answer("à l'ÉLYSÉE", ["elysee"])
    assert metrics.contains_answer("Benoit\u00a0XVI a dit", ["Benoît XVI"])
    assert not metrics.contains_answer("en 1824", ["18"])  # word boundaries
    assert not metrics.contains_answer("rien", [])
    assert not metrics.contains_answer("rien", ["  "])


def test_hit_rank_needs_the_gold_document_and_an_answer():
    passages = [
        make_passage("Syriam était le port", 1, doc_id="other"),
        make_passage("sans réponse", 2, doc_id="d1"),
        make_passage("Rangoun avait remplacé SYRIAM", 3, doc_id="d1"),
    ]
    assert metrics.hit_rank(passages, "d1", ["Syriam"]) == 3
    assert metrics.hit_rank(passages, "d2", ["Syriam"]) is None
    assert metrics.hit_rank(passages, "d1", []) is None


def test_recall_and_mrr():
    ranks = [1, 3, None, 7]
    assert metrics.recall_at(ranks, 1) == 0.25
    assert metrics.recall_at(ranks, 5) == 0.5
    assert metrics.recall_at(ranks, 10) == 0.75
    assert metrics.mrr(ranks) == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    assert metrics.recall_at([], 5) is None and metrics.mrr([]) is None


def test_token_recall_best_gold():
    assert metrics.token_recall("Le samedi 13 septembre 2025", ["13 septembre 2025"]) == 1.0
    assert metrics.token_recall("en septembre", ["13 septembre 2025", "septembre"]) == 1.0
    assert metrics.token_recall("le 13 septembre", ["samedi 13 septembre 2025"]) == 0.5
    assert metrics.token_recall("rien", ["Élysée"]) == 0.0


def test_citation_hits():
    cites = [_cite("La rénovation a coûté 8,6 millions d’euros."), _cite("Le pont mesure 180 m.")]
    assert metrics.citation_hits(cites, ["8,6 millions d'euros"]) == (1, 2)
    assert metrics.citation_hits(cites, ["180 m"]) == (1, 2)
    assert metrics.citation_hits([], ["x"]) == (0, 0)


def test_percentile_and_fmt():
    assert report.percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert report.percentile([], 50) is None
    assert report.fmt(None) == "-" and report.fmt(12) == "12"
    assert report.fmt(0.5) == "0.500" and report.fmt(0.0123, "s") == "12.3 ms"
    assert report.fmt(2.5, "s") == "2.50 s" and report.fmt(1234.5, "KiB") == "1,234 KiB"
    assert report.fmt_delta(-0.25) == "-0.250" and report.fmt_delta(3) == "+3"


# ---- calibration numerics


def test_auc_and_thresholds():
    assert calibrate.auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert calibrate.auc([0.5, 0.5], [1, 0]) == 0.5
    assert calibrate.auc([0.1, 0.2], [1, 1]) is None
    table = calibrate.threshold_table([0.9, 0.45, 0.2, 0.6], [1, 1, 0, 0], [0.3, 0.5, 0.7])
    assert table[0] == {"threshold": 0.3, "abstention": 0.5, "false_abstention": 0.0}
    assert table[1]["false_abstention"] == 0.5
    assert calibrate.suggest_threshold(table, 0.1)["threshold"] == 0.3
    assert calibrate.suggest_threshold(table, 0.0) == table[0]


def test_fit_logistic_separates_classes():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.0, 0.3, (50, 2)), rng.normal(0.0, 0.3, (50, 2))])
    y = np.array([1] * 50 + [0] * 50)
    w, b = calibrate.fit_logistic(x, y)
    scores = 1 / (1 + np.exp(-(x @ w + b)))
    assert w[0] > 0 and w[1] > 0
    assert calibrate.auc(scores, y) > 0.95


def test_fit_logistic_weighs_both_classes_equally():
    """With 90 negatives and 10 positives on one feature, the balanced fit puts the
    decision boundary between the classes, not past the minority one."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0.0, 1.0, 90), rng.normal(2.0, 1.0, 10)])[:, None]
    y = np.array([0] * 90 + [1] * 10)
    w, b = calibrate.fit_logistic(x, y)
    boundary = -b / w[0]
    assert 0.5 < boundary < 1.5


# ---- reading


def test_sample_is_reproducible_and_keeps_order():
    qs = [Question(str(i), f"q{i}", [], "", True) for i in range(20)]
    a, b = sample(qs, 5, 1), sample(qs, 5, 1)
    assert [q.id for q in a] == [q.id for q in b]
    assert [int(q.id) for q in a] == sorted(int(q.id) for q in a)
    assert sample(qs, 50, 1) == qs
    assert sample(qs, None, 1) == qs


def test_read_squad_builds_corpus_and_questions(tmp_path):
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    questions, docs = read_questions(path)
    assert [d["id"] for d in docs] == ["pont-suspendu-de-montclar", "festival-rives-rythmes"]
    assert docs[0]["title"] == "Pont suspendu de Montclar"
    assert docs[0]["text"].count("\n\n") == 1 and "180 mètres" in docs[0]["text"]
    by_id = {q.id: q for q in questions}
    assert by_id["q1"].doc_id == "pont-suspendu-de-montclar"
    assert by_id["q1"].answers == ["8,6 millions d'euros"] and by_id["q1"].answerable
    assert not by_id["q3"].answerable and by_id["q3"].answers == ["2 euros"]
    assert by_id["q4"].doc_id == "festival-rives-rythmes"
    corpus = write_corpus(docs, tmp_path / "corpus", path.stem)
    lines = corpus.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == [d["id"] for d in docs]
    mtime = corpus.stat().st_mtime_ns
    assert write_corpus(docs, tmp_path / "corpus", path.stem) == corpus
    assert corpus.stat().st_mtime_ns == mtime  # unchanged content is not rewritten


def test_read_jsonl_questions(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "Qui ?", "answers": ["Lui"], "doc_id": "d", '
        '"answerable": true}\n\n'
        '{"question": "Quoi ?", "answers": "Ça", "doc_id": "e", "answerable": false}\n',
        encoding="utf-8",
    )
    questions, docs = read_questions(path)
    assert docs == []
    assert [q.id for q in questions] == ["a", "q:3"]
    assert questions[1].answers == ["Ça"] and not questions[1].answerable
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        read_questions(bad)


def test_load_questions_samples_per_file_and_writes_squad_articles(tmp_path):
    squad = tmp_path / "mini.json"
    squad.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    lines = tmp_path / "more.jsonl"
    lines.write_text(
        "".join(json.dumps({"id": f"m{i}", "question": f"Q{i} ?"}) + "\n" for i in range(5)),
        encoding="utf-8",
    )
    questions, corpora = load_questions([squad, lines], limit=2, seed=0)
    assert [q.file for q in questions] == ["mini.json"] * 2 + ["more.jsonl"] * 2
    assert corpora == []  # no folder: the articles are not written
    _, corpora = load_questions([squad], corpus_folder=tmp_path / "eval-corpus")
    assert corpora == [tmp_path / "eval-corpus" / "mini.jsonl"] and corpora[0].is_file()
    with pytest.raises(ValueError, match="no such question file"):
        load_questions([tmp_path / "missing.jsonl"])


# ---- summary and compare


def _row(qid, rank=None, answerable=True, **full) -> Row:
    return Row(
        id=qid,
        file="f",
        question=f"question {qid}",
        doc_id="d",
        answerable=answerable,
        answers=["x"],
        hit_rank=rank,
        search_s=0.01,
        **full,
    )


def test_summarize_full_rows():
    rows = [
        _row(
            "1",
            1,
            mode="generated",
            abstained=False,
            contains_answer=True,
            short_answer="le 4 mars 2023",
            short_contains=True,
            token_recall=1.0,
            citations=2,
            good_citations=1,
            timings={"total": 1.0, "first_token": 0.2},
        ),
        _row(
            "2",
            None,
            mode="abstained",
            abstained=True,
            contains_answer=False,
            token_recall=0.0,
            citations=0,
            good_citations=0,
            timings={"total": 0.1, "first_token": 0.1},
        ),
        _row(
            "3",
            None,
            answerable=False,
            mode="abstained",
            abstained=True,
            timings={"total": 0.1, "first_token": 0.1},
        ),
        _row(
            "4",
            None,
            answerable=False,
            mode="extractive",
            abstained=False,
            short_answer="",
            citations=1,
            good_citations=0,
            timings={"total": 0.3, "first_token": 0.3},
        ),
        _row("5", 1, error="the question is empty"),
    ]
    s = summarize(rows)
    assert (s["questions"], s["answerable"], s["unanswerable"], s["errors"]) == (5, 2, 2, 1)
    assert s["recall@1"] == 0.5 and s["mrr"] == 0.5
    assert s["answer_contains"] == 0.5 and s["token_recall"] == 0.5
    assert s["stated_share"] == 0.5 and s["short_contains"] == 0.5 and s["short_words"] == 4
    assert s["citation_precision"] == 0.5
    assert s["cited_share"] == 1.0
    assert s["abstention"] == 0.5 and s["false_abstention"] == 0.5
    assert s["modes"] == {"abstained": 2, "generated": 1, "extractive": 1}
    assert s["latency_p50_s"] == pytest.approx(0.2)
    text = report.format_summary(s, "title")
    assert "citation precision" in text and "generated 1" in text
    assert "short answer contains a gold answer" in text


def test_questions_split_by_article():
    questions = [Question(str(i), "q", ["a"], f"doc-{i % 40}", True) for i in range(400)]
    train = in_split(questions, "train")
    validation = in_split(questions, "validation")
    assert len(train) + len(validation) == 400 and in_split(questions, "all") == questions
    assert not {q.doc_id for q in train} & {q.doc_id for q in validation}
    assert 0.1 < len({q.doc_id for q in validation}) / 40 < 0.5
    assert all(split_of(q.doc_id) == "validation" for q in validation)
    with pytest.raises(ValueError, match="unknown split"):
        in_split(questions, "test")


def test_fitted_trees_score_as_lightgbm_does():
    pytest.importorskip("lightgbm")
    from ancre.qa.learned import from_dict
    from ancre.qa.measure.train import fit_logistic, fit_trees

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    trees = fit_trees(x, y, ["a", "b", "c"], "t")  # checks itself against LightGBM
    rows = [dict(zip("abc", r, strict=True)) for r in x[:50]]
    assert np.allclose(from_dict(trees.to_dict()).score(rows), trees.score(rows))
    assert ((trees.score(rows) > 0.5) == y[:50]).mean() > 0.9
    linear = fit_logistic(x, y, ["a", "b", "c"], "l")
    assert ((linear.score(rows) > 0.5) == y[:50]).mean() > 0.9


def test_fitted_ranker_puts_the_best_graded_row_of_each_group_first():
    pytest.importorskip("lightgbm")
    from ancre.qa.measure.train import fit_trees

    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 3))
    grade = np.digitize(x[:, 0] - 0.3 * x[:, 2], [0.5, 1.5])  # 0, 1 or 2
    groups = [20] * 30
    ranker = fit_trees(x, grade, ["a", "b", "c"], "r", groups)  # checks itself too
    scores = ranker.score([dict(zip("abc", r, strict=True)) for r in x])
    best = [int(np.argmax(scores[i : i + 20])) + i for i in range(0, 600, 20)]
    assert np.mean([grade[i] == grade[i - i % 20 : i - i % 20 + 20].max() for i in best]) > 0.8


def test_span_grade_prefers_the_answer_without_the_question():
    from ancre.qa.measure.train import QUESTION_INSIDE, span_grade

    answers = ["Jean Moulin"]
    assert span_grade("Jean Moulin", 0.0, answers) == 2
    assert span_grade("le préfet Jean Moulin", QUESTION_INSIDE + 0.1, answers) == 1
    assert span_grade("le préfet", 0.0, answers) == 0


def test_summarize_retrieval_only_predicts_abstention():
    rows = [
        _row("1", 2, evidence=0.9),
        _row("2", None, evidence=0.3),
        _row("3", None, answerable=False, evidence=0.2),
    ]
    s = summarize(rows, threshold=0.5)
    assert s["recall@1"] == 0.0 and s["recall@5"] == 0.5
    assert s["evidence_abstention"] == 1.0 and s["evidence_false_abstention"] == 0.5
    assert "answer_contains" not in s


def _run(rows: list[Row]) -> dict:
    from dataclasses import asdict

    return {"summary": summarize(rows), "settings": {}, "rows": [asdict(r) for r in rows]}


def test_compare_lists_changed_questions(tmp_path, capsys):
    from ancre.ui.cli import main

    a = _run(
        [
            _row("1", 1),
            _row("2", 7),
            _row("3", 2, mode="generated", abstained=False, contains_answer=True),
            _row("4", 1),  # retrieval only in A: its answer status is not a change
        ]
    )
    b = _run(
        [
            _row("1", 2),
            _row("2", 3),
            _row("3", 2, mode="abstained", abstained=True, contains_answer=False),
            _row("4", 1, mode="generated", abstained=False, contains_answer=True),
        ]
    )
    text = report.compare(a, b, "base", "new")
    recall1 = next(line for line in text.splitlines() if "recall@1 " in line)
    assert recall1.split()[-3:] == ["0.500", "0.250", "-0.250"]
    assert "2 of 4 common questions changed" in text
    assert "2: hit@7 -> hit@3" in text
    assert "3: hit@2 correct -> hit@2 abstained" in text
    assert "\n  1:" not in text  # hit@1 -> hit@2 stays a hit within 5
    pa, pb = report.write_json(tmp_path / "a.json", a), report.write_json(tmp_path / "b.json", b)
    assert main(["eval", "--compare", str(pa), str(pb)]) == 0
    out = capsys.readouterr().out
    assert "retrieval recall@5" in out and "changed status" in out


def test_eval_needs_questions(capsys):
    from ancre.ui.cli import main

    assert main(["eval"]) == 1
    assert "question files" in capsys.readouterr().err


def test_eval_refuses_a_missing_question_file(tmp_path, capsys):
    from ancre.ui.cli import main

    missing = tmp_path / "missing.jsonl"
    assert main(["eval", str(missing), "--index-dir", str(tmp_path / "i")]) == 1
    assert f"no such question file: {missing}" in capsys.readouterr().err


# ---- evaluate and calibrate over the tiny index, with fakes


def _answerer(index_dir, reply: str = "") -> Answerer:
    retriever = Retriever.open(index_dir, embedder=HashEmbedder())
    return Answerer(
        retriever, ScriptedGenerator(reply), AnswerSettings(span_first_above=1.01, state_above=0.0)
    )


QUESTIONS = [
    Question("tram", TRAM, ["13 septembre 2025"], "tramway-ligne-c-bellerive.md", True, "s"),
    Question("fest", FESTIVAL, ["74 500"], "festival-rives-et-rythmes-2025.html", True, "s"),
    Question("gold", OFF_TOPIC, [], "", False, "s"),
    Question("empty", "   ", ["x"], "d", True, "s"),
]


def test_evaluate_scores_each_question(tiny_index):
    rows = evaluate(QUESTIONS, _answerer(tiny_index, "Le samedi 13 septembre 2025 [1]."))
    tram, fest, gold, empty = rows
    assert tram.retrieved[0].endswith("/tramway-ligne-c-bellerive.md") and tram.hit_rank == 1
    assert tram.mode == "stated" and tram.contains_answer and tram.token_recall == 1.0
    assert tram.likely_contains and tram.confidence is not None and tram.signals["generated"]
    assert tram.citations == 1 and tram.good_citations == 1
    assert tram.timings["total"] >= tram.timings["first_token"] > 0
    assert fest.hit_rank is not None and fest.contains_answer  # quoted from the passage
    assert not fest.signals["generated"]  # the scripted reply is not supported for it
    assert gold.abstained and gold.hit_rank is None and gold.contains_answer is False
    assert empty.error == "the question is empty" and empty.mode is None
    s = summarize(rows)
    assert s["errors"] == 1 and s["recall@1"] == 1.0
    assert s["answer_contains"] == 1.0 and s["abstention"] == 1.0
    assert s["modes"] == {"stated": 2, "abstained": 1}
    assert s["stated_coverage"] == 1.0 and s["stated_unanswerable"] == 0.0


def test_retrieval_only_records_evidence_without_generating(tiny_index):
    qa = _answerer(tiny_index, "never asked")
    rows = evaluate(QUESTIONS[:3], qa, retrieval_only=True)
    assert not qa.generator.prompts
    assert all(r.mode is None and r.answer is None for r in rows)
    tram, _fest, gold = rows
    assert tram.evidence > qa.settings.abstain_threshold > gold.evidence
    s = summarize(rows, qa.settings.abstain_threshold)
    assert s["evidence_abstention"] == 1.0 and s["evidence_false_abstention"] == 0.0


def test_index_info(tiny_index, tmp_path):
    info = index_info(tiny_index)
    assert info["documents"] >= 14 and info["embed_model"] == "hash-256"
    assert index_info(tmp_path / "none") == {}


def test_calibrate_fits_the_evidence_model(tiny_index):
    from ancre.qa.learned import load_model
    from ancre.qa.measure.questions import read_question_table
    from ancre.samples import ARTICLES

    asked = read_question_table(ARTICLES.parent / "QUESTIONS.md")
    off_topic = [
        OFF_TOPIC,
        "Qui a gagné l’étape du Tour de France arrivée à Port-Joubert ?",
        "Quelle est la capitale de l’Australie ?",
        "Combien de joueurs compte une équipe de rugby à XV ?",
    ]
    questions = [Question(f"a{i}", q, [], "", True) for i, q in enumerate(asked)]
    questions += [Question(f"u{i}", q, [], "", False) for i, q in enumerate(off_topic)]
    retriever = Retriever.open(tiny_index, embedder=HashEmbedder())
    fit = calibrate.calibrate(questions, retriever, AnswerSettings())
    assert (fit.questions, fit.answerable) == (16, 12)
    assert set(load_model("evidence").features) <= set(fit.weights)
    assert fit.model.features == tuple(fit.weights) and fit.model.kind == "logistic"
    assert 0.5 < fit.fitted_auc <= 1.0 and 0.0 <= fit.current_auc <= 1.0
    assert [r["threshold"] for r in fit.table] == calibrate.THRESHOLDS
    text = calibrate.format_calibration(fit)
    assert "evidence weights = {" in text and "evidence bias = " in text
    assert "current model at abstain_threshold 0.28" in text
    with pytest.raises(ValueError, match="both answerable and unanswerable"):
        calibrate.calibrate(questions[:12], retriever, AnswerSettings())


def test_the_answer_path_never_imports_the_instruments():
    code = (
        "import sys, ancre.qa, ancre.qa.api, ancre.qa.answer\n"
        "print([m for m in sys.modules if m.startswith('ancre.qa.measure')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- end to end (real embedding model)


@pytest.mark.slow
def test_eval_squad_retrieval_only_end_to_end(tmp_path, capsys):
    from ancre.ui.cli import main

    squad = tmp_path / "mini.json"
    squad.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.json"
    index_dir = tmp_path / "index"
    code = main(
        ["eval", str(squad), "--index-dir", str(index_dir), "--retrieval-only", "--json", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "retrieval recall@1" in printed and "retrieval MRR@10" in printed
    assert "4 questions (3 answerable, 1 unanswerable)" in printed
    assert (index_dir / "eval-corpus" / "mini.jsonl").is_file()
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {"summary", "settings", "rows"}
    s = data["summary"]
    assert s["recall@10"] == 1.0 and s["recall@1"] >= 2 / 3
    assert data["settings"]["index"]["documents"] == 2
    assert data["settings"]["retrieval_only"] is True
    assert {r["id"] for r in data["rows"]} == {"q1", "q2", "q3", "q4"}
    q1 = next(r for r in data["rows"] if r["id"] == "q1")
    assert q1["retrieved"][0] == "pont-suspendu-de-montclar" and q1["hit_rank"] == 1
    # a second run reuses the index (nothing re-embedded) and --limit samples per file
    assert (
        main(
            [
                "eval",
                str(squad),
                "--index-dir",
                str(index_dir),
                "--retrieval-only",
                "--limit",
                "2",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "2 questions" in captured.out
    assert "0 added, 0 updated, 2 unchanged" in captured.err
    # --calibrate fits the abstention model on the same index (retrieval only)
    assert main(["eval", str(squad), "--index-dir", str(index_dir), "--calibrate"]) == 0
    printed = capsys.readouterr().out
    assert "evidence weights = {" in printed and "evidence bias = " in printed
    assert "AUC" in printed and "threshold" in printed
