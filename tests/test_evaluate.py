"""`ancre eval`: metric functions (no model), SQuAD reading, --compare, and one end-to-end
retrieval-only run on a tiny SQuAD file (real embedding model: slow)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import pytest

from ancre.qa import evaluate as ev


@dataclass
class P:
    doc_id: str
    text: str


@dataclass
class C:
    text: str


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


# ---- normalisation and hits


def test_contains_answer_folds_case_accents_apostrophes_and_spaces():
    assert ev.contains_answer("Le coût : 8,6 MILLIONS  d’EUROS.", ["8,6 millions d'euros"])
    assert ev.contains_answer("à l'ÉLYSÉE", ["elysee"])
    assert ev.contains_answer("Benoit\u00a0XVI a dit", ["Benoît XVI"])
    assert not ev.contains_answer("en 1824", ["18"])  # word boundaries
    assert not ev.contains_answer("rien", [])
    assert not ev.contains_answer("rien", ["  "])


def test_hit_rank_needs_the_gold_document_and_an_answer():
    passages = [
        P("other", "Syriam était le port"),
        P("d1", "sans réponse"),
        P("d1", "Rangoun avait remplacé SYRIAM"),
    ]
    assert ev.hit_rank(passages, "d1", ["Syriam"]) == 3
    assert ev.hit_rank(passages, "d2", ["Syriam"]) is None
    assert ev.hit_rank(passages, "d1", []) is None


def test_recall_and_mrr():
    ranks = [1, 3, None, 7]
    assert ev.recall_at(ranks, 1) == 0.25
    assert ev.recall_at(ranks, 5) == 0.5
    assert ev.recall_at(ranks, 10) == 0.75
    assert ev.mrr(ranks) == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    assert ev.recall_at([], 5) is None and ev.mrr([]) is None


def test_token_recall_best_gold():
    assert ev.token_recall("Le samedi 13 septembre 2025", ["13 septembre 2025"]) == 1.0
    assert ev.token_recall("en septembre", ["13 septembre 2025", "septembre"]) == 1.0
    assert ev.token_recall("le 13 septembre", ["samedi 13 septembre 2025"]) == 0.5
    assert ev.token_recall("rien", ["Élysée"]) == 0.0


def test_citation_precision():
    cites = [C("La rénovation a coûté 8,6 millions d’euros."), C("Le pont mesure 180 m.")]
    assert ev.citation_precision(cites, ["8,6 millions d'euros"]) == 0.5
    assert ev.citation_hits(cites, ["180 m"]) == (1, 2)
    assert ev.citation_precision([], ["x"]) is None


def test_percentile_and_auc_and_thresholds():
    assert ev.percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert ev.percentile([], 50) is None
    assert ev.auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert ev.auc([0.5, 0.5], [1, 0]) == 0.5
    assert ev.auc([0.1, 0.2], [1, 1]) is None
    table = ev.threshold_table([0.9, 0.45, 0.2, 0.6], [1, 1, 0, 0], [0.3, 0.5, 0.7])
    assert table[0] == {"threshold": 0.3, "abstention": 0.5, "false_abstention": 0.0}
    assert table[1]["false_abstention"] == 0.5
    assert ev.suggest_threshold(table, 0.1)["threshold"] == 0.3
    assert ev.suggest_threshold(table, 0.0) == table[0]


def test_fit_logistic_separates_classes():
    import numpy as np

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.0, 0.3, (50, 2)), rng.normal(0.0, 0.3, (50, 2))])
    y = np.array([1] * 50 + [0] * 50)
    w, b = ev.fit_logistic(x, y)
    scores = 1 / (1 + np.exp(-(x @ w + b)))
    assert w[0] > 0 and w[1] > 0
    assert ev.auc(scores, y) > 0.95


def test_sample_is_reproducible_and_keeps_order():
    qs = [ev.Question(str(i), f"q{i}", [], "", True) for i in range(20)]
    a, b = ev.sample(qs, 5, 1), ev.sample(qs, 5, 1)
    assert [q.id for q in a] == [q.id for q in b]
    assert [int(q.id) for q in a] == sorted(int(q.id) for q in a)
    assert ev.sample(qs, 50, 1) == qs
    assert ev.sample(qs, None, 1) == qs


# ---- reading


def test_read_squad_builds_corpus_and_questions(tmp_path):
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    questions, docs = ev.read_questions(path)
    assert [d["id"] for d in docs] == ["pont-suspendu-de-montclar", "festival-rives-rythmes"]
    assert docs[0]["title"] == "Pont suspendu de Montclar"
    assert docs[0]["text"].count("\n\n") == 1 and "180 mètres" in docs[0]["text"]
    by_id = {q.id: q for q in questions}
    assert by_id["q1"].doc_id == "pont-suspendu-de-montclar"
    assert by_id["q1"].answers == ["8,6 millions d'euros"] and by_id["q1"].answerable
    assert not by_id["q3"].answerable and by_id["q3"].answers == ["2 euros"]
    assert by_id["q4"].doc_id == "festival-rives-rythmes"
    corpus = ev.write_corpus(docs, tmp_path / "corpus", path.stem)
    lines = corpus.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == [d["id"] for d in docs]
    mtime = corpus.stat().st_mtime_ns
    assert ev.write_corpus(docs, tmp_path / "corpus", path.stem) == corpus
    assert corpus.stat().st_mtime_ns == mtime  # unchanged content is not rewritten


def test_read_jsonl_questions(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "Qui ?", "answers": ["Lui"], "doc_id": "d", '
        '"answerable": true}\n\n'
        '{"question": "Quoi ?", "answers": "Ça", "doc_id": "e", "answerable": false}\n',
        encoding="utf-8",
    )
    questions, docs = ev.read_questions(path)
    assert docs == []
    assert [q.id for q in questions] == ["a", "q:3"]
    assert questions[1].answers == ["Ça"] and not questions[1].answerable
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        ev.read_questions(bad)


# ---- summary and compare


def _row(qid, rank=None, answerable=True, **full):
    row = {
        "id": qid,
        "file": "f",
        "question": f"question {qid}",
        "doc_id": "d",
        "answerable": answerable,
        "answers": ["x"],
        "hit_rank": rank,
        "retrieved": [],
        "search_s": 0.01,
        "evidence": None,
        "error": "",
        "answer": None,
        "mode": None,
        "abstained": None,
        "contains_answer": None,
        "token_recall": None,
        "citations": None,
        "good_citations": None,
        "timings": {},
    }
    row.update(full)
    return row


def test_summarize_full_rows():
    rows = [
        _row(
            "1",
            1,
            mode="generated",
            abstained=False,
            contains_answer=True,
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
            citations=1,
            good_citations=0,
            timings={"total": 0.3, "first_token": 0.3},
        ),
    ]
    s = ev.summarize(rows)
    assert (s["questions"], s["answerable"], s["unanswerable"]) == (4, 2, 2)
    assert s["recall@1"] == 0.5 and s["mrr"] == 0.5
    assert s["answer_contains"] == 0.5 and s["token_recall"] == 0.5
    assert s["citation_precision"] == 0.5
    assert s["cited_share"] == 1.0
    assert s["abstention"] == 0.5 and s["false_abstention"] == 0.5
    assert s["modes"] == {"abstained": 2, "generated": 1, "extractive": 1}
    assert s["latency_p50_s"] == pytest.approx(0.2)
    text = ev.format_summary(s, "title")
    assert "citation precision" in text and "generated 1" in text


def test_summarize_retrieval_only_predicts_abstention():
    rows = [
        _row("1", 2, evidence=0.9),
        _row("2", None, evidence=0.3),
        _row("3", None, answerable=False, evidence=0.2),
    ]
    s = ev.summarize(rows, threshold=0.5)
    assert s["recall@1"] == 0.0 and s["recall@5"] == 0.5
    assert s["evidence_abstention"] == 1.0 and s["evidence_false_abstention"] == 0.5
    assert "answer_contains" not in s


def test_compare_lists_changed_questions(tmp_path, capsys):
    from ancre.ui.cli import main

    a_rows = [
        _row("1", 1),
        _row("2", 7),
        _row("3", 2, mode="generated", abstained=False, contains_answer=True),
        _row("4", 1),  # retrieval only in A: its answer status is not a change
    ]
    b_rows = [
        _row("1", 2),
        _row("2", 3),
        _row("3", 2, mode="abstained", abstained=True, contains_answer=False),
        _row("4", 1, mode="generated", abstained=False, contains_answer=True),
    ]
    a = {"summary": ev.summarize(a_rows), "settings": {}, "rows": a_rows}
    b = {"summary": ev.summarize(b_rows), "settings": {}, "rows": b_rows}
    text = ev.compare(a, b, "base", "new")
    recall1 = next(line for line in text.splitlines() if "recall@1 " in line)
    assert recall1.split()[-3:] == ["0.500", "0.250", "-0.250"]
    assert "2 of 4 common questions changed" in text
    assert "2: hit@7 -> hit@3" in text
    assert "3: hit@2 correct -> hit@2 abstained" in text
    assert "\n  1:" not in text  # hit@1 -> hit@2 stays a hit within 5
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a), encoding="utf-8")
    pb.write_text(json.dumps(b), encoding="utf-8")
    assert main(["eval", "--compare", str(pa), str(pb)]) == 0
    out = capsys.readouterr().out
    assert "retrieval recall@5" in out and "changed status" in out


def test_eval_needs_questions(capsys):
    from ancre.ui.cli import main

    assert main(["eval"]) == 1
    assert "question files" in capsys.readouterr().err


def test_calibrate_needs_both_kinds(tmp_path, capsys):
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"question": "Qui ?", "answers": ["x"], "answerable": true}\n', encoding="utf-8"
    )
    settings = ev.Settings(index_dir=str(tmp_path / "none"))
    args = argparse.Namespace(
        questions=[str(path)],
        corpus=None,
        limit=None,
        seed=0,
        compare=None,
        calibrate=True,
        retrieval_only=False,
        json_out=None,
        index_dir=None,
    )
    with pytest.raises(ValueError, match="both answerable and unanswerable"):
        ev.run(args, settings)


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
    assert "EVIDENCE_WEIGHTS = {" in printed and "EVIDENCE_BIAS = " in printed
    assert "AUC" in printed and "threshold" in printed
