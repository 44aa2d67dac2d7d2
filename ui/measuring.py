"""The command line's measuring commands: ``ancre eval`` (answer quality, calibration, the
confidence fit, the chat's feedback as a question set) and ``ancre bench`` (speed, memory,
scale)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ancre.index.settings import IndexSettings, describe

from .flags import EXIT_OK

if TYPE_CHECKING:
    from ancre.qa.settings import AnswerSettings

log = logging.getLogger("ancre")


def cmd_eval(
    args: argparse.Namespace, index_settings: IndexSettings, settings: AnswerSettings
) -> int:
    """``ancre eval``: index the corpus if one is given (or the articles of SQuAD files),
    then evaluate, calibrate, or compare two ``--json`` outputs."""
    from dataclasses import asdict, replace

    from ancre.qa import open_answerer
    from ancre.qa.measure import calibrate, evaluate, metrics, questions, report

    if args.compare:
        a, b = (json.loads(Path(p).expanduser().read_text(encoding="utf-8")) for p in args.compare)
        print(report.compare(a, b, Path(args.compare[0]).stem, Path(args.compare[1]).stem))
        return EXIT_OK
    if args.feedback_out:
        from .conversations import ConversationStore
        from .feedback import write_question_set

        store = ConversationStore.beside(index_settings.index_dir)
        path, up, down = write_question_set(store, args.feedback_out)
        print(f"wrote {path}: {up} answers marked right, {down} marked wrong")
        return EXIT_OK
    if args.fit_confidence:
        from ancre.qa.learned import save_model
        from ancre.qa.measure import confidence_fit

        run = json.loads(Path(args.fit_confidence).expanduser().read_text(encoding="utf-8"))
        fit = confidence_fit.fit_confidence(confidence_fit.rows_of(run))
        print(confidence_fit.format_fit(fit))
        if args.weights_out:
            print(f"wrote {save_model(fit.model, args.weights_out)}")
        return EXIT_OK
    if not args.questions:
        raise ValueError(
            "give question files (JSON Lines or SQuAD JSON), --compare A B, --fit-confidence RUN "
            "or --feedback-out FILE"
        )
    squad_dir = None if args.corpus else Path(index_settings.index_dir) / questions.CORPUS_FOLDER
    asked, squad_corpus = questions.load_questions(
        args.questions, limit=args.limit, seed=args.seed, corpus_folder=squad_dir
    )
    asked = questions.in_split(asked, args.split)
    if not asked:
        raise ValueError("no questions in " + ", ".join(args.questions))
    if args.corpus or squad_corpus:
        _index_eval_corpus(args.corpus or squad_corpus, index_settings, bool(args.index_dir))
    generating = not (args.calibrate or args.retrieval_only)
    qa = open_answerer(settings if generating else replace(settings, llm="none"), index_settings)
    if args.calibrate:
        if args.weights_out:
            from ancre.qa.measure import train

            for path in train.fit_models(asked, qa.retriever, settings, args.weights_out):
                print(f"wrote {path}")
        from ancre.qa.generation.llm import load_generator
        from ancre.qa.learned import load_model, save_model
        from ancre.qa.reading.likelihood import TokenScorer

        # the plain model (no generator, or a server), then the one that weighs the
        # question's likelihood when --llm names a llama.cpp model
        generator = load_generator(settings.llm, settings, index_settings.cache_dir)
        scorers = [None] + ([generator] if isinstance(generator, TokenScorer) else [])
        for scorer in scorers:
            if scorer is not None and args.weights_out:  # reorders what evidence-llm sees
                from ancre.qa.measure import train

                rerank_llm = train.fit_likelihood_rerank(
                    asked, qa.retriever, settings, scorer, args.weights_out, progress=True
                )
                print(f"wrote {rerank_llm}")
            fit = calibrate.calibrate(asked, qa.retriever, settings, scorer=scorer, progress=True)
            print(calibrate.format_calibration(fit))
            if args.weights_out:
                print(f"wrote {save_model(fit.model, args.weights_out)}")
                load_model.cache_clear()  # into qa/weights: the new plain model bands the next
        return EXIT_OK
    rows = evaluate.evaluate(asked, qa, retrieval_only=args.retrieval_only, progress=True)
    summary = metrics.summarize(rows, settings.abstain_threshold)
    info = evaluate.run_info(
        index_settings,
        settings,
        question_files=args.questions,
        corpus=args.corpus,
        limit=args.limit,
        seed=args.seed,
        retrieval_only=args.retrieval_only,
    )
    print(report.format_summary(summary, report.eval_title(info, summary)))
    if args.json_out:
        payload = {"summary": summary, "settings": info, "rows": [asdict(r) for r in rows]}
        print(f"wrote {report.write_json(args.json_out, payload)}")
        if not args.retrieval_only:
            from ancre.qa.measure import confidence_fit

            png = Path(args.json_out).expanduser().with_suffix(".png")
            print(f"wrote {confidence_fit.plot(rows, settings.state_above, png)}")
    return EXIT_OK


def _index_eval_corpus(sources: list, settings: IndexSettings, explicit_dir: bool) -> None:
    from ancre import index

    if not explicit_dir:
        log.warning(
            "indexing the evaluation corpus into %s (the default index); pass "
            "--index-dir to keep it apart",
            settings.index_dir,
        )
    report = index.build(sources, settings=settings, progress=sys.stderr.isatty())
    for s in report.skipped:
        log.warning("skipped %s", s)
    print(
        f"index {settings.index_dir}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged; {report.documents_total} documents, "
        f"{report.chunks_total} chunks ({report.seconds:.1f} s)"
        + (f"; re-embedded everything: {report.reembedded}" if report.reembedded else ""),
        file=sys.stderr,
    )


def cmd_bench(
    args: argparse.Namespace, index_settings: IndexSettings, settings: AnswerSettings
) -> int:
    """``ancre bench`` on the corpus (default: the sample articles, asked their
    QUESTIONS.md); figures are printed as they are measured."""
    import time
    from dataclasses import asdict

    from ancre.qa.measure import bench
    from ancre.qa.measure.report import Figures, write_json
    from ancre.samples import ARTICLES

    if args.html:
        from ancre.qa.measure.htmlbench import bench_html

        rows = bench_html(args.html)
        if args.json_out:
            print(f"wrote {write_json(args.json_out, {'html': str(args.html), 'rows': rows})}")
        return EXIT_OK
    if args.copies:
        from ancre.qa.measure.copies import bench_copies

        figures = bench_copies(args.copies, settings=settings)
        if args.json_out:
            print(f"wrote {write_json(args.json_out, figures)}")
        return EXIT_OK
    if args.scale:
        return _bench_scale(args, index_settings)
    from .apibench import bench_api

    sizes = bench.parse_sizes(args.sizes)
    only = bench.parse_only(args.only)
    corpus = Path(args.corpus).expanduser() if args.corpus else ARTICLES
    if not corpus.exists():
        raise ValueError(f"no such corpus: {corpus}")
    machine = bench.machine()
    print(
        f"ancre bench: {machine['cores']} cores, {machine['processor'] or machine['platform']}, "
        f"Python {machine['python']}; corpus {corpus}; sizes {sizes}"
        f"{'; quick' if args.quick else ''}; benches {', '.join(sorted(only))}"
    )
    fig = Figures(print)
    t0 = time.perf_counter()
    bench.run_benches(
        corpus,
        index_settings,
        settings,
        sizes=sizes,
        questions=bench_questions(args.questions),
        repeats=1 if args.quick else 3,
        fig=fig,
        only=only,
        api_bench=bench_api,
    )
    elapsed = time.perf_counter() - t0
    print(f"(bench took {elapsed:.0f} s)")
    if args.json_out:
        payload = {
            "machine": machine,
            "corpus": str(corpus),
            "sizes": sizes,
            "quick": bool(args.quick),
            "only": sorted(only),
            "seconds": elapsed,
            "settings": {**dict(describe(index_settings)), **asdict(settings)},
            **fig.data,
        }
        print(f"wrote {write_json(args.json_out, payload)}")
    return EXIT_OK


def bench_questions(path: str | None) -> list[str]:
    """The questions of ``ancre bench --questions FILE`` (20 drawn at random with seed 0),
    else the sample articles' QUESTIONS.md."""
    from ancre.qa.measure.asks import ASKS
    from ancre.qa.measure.questions import load_questions, read_question_table
    from ancre.samples import ARTICLES

    if not path:
        return read_question_table(ARTICLES.parent / "QUESTIONS.md")
    asked, _ = load_questions([path], limit=ASKS, seed=0)
    return [q.question for q in asked]


def _bench_scale(args: argparse.Namespace, index_settings: IndexSettings) -> int:
    """``ancre bench --scale``: stores grown to each size (``qa/measure/scale.py``)."""
    import tempfile

    from ancre.qa.measure import bench, scale
    from ancre.qa.measure.report import Figures, write_json

    if not (args.corpus and args.questions):
        raise ValueError(
            "--scale needs --corpus ARTICLES and --questions FILE (questions on those "
            "articles, with their answers), e.g. PIAF dev's corpus.jsonl and questions.jsonl"
        )
    sizes = bench.parse_sizes(args.scale)
    stores = scale.parse_stores(args.scale_store)
    machine = bench.machine()
    print(
        f"ancre bench --scale: {machine['cores']} cores, {machine['processor']}; sizes {sizes}; "
        f"stores {', '.join(stores)}; vector index {index_settings.vector_index}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    fig = Figures(print)
    if args.work:
        Path(args.work).expanduser().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ancre-scale-", dir=args.work) as tmp:
        out = scale.run_scale(
            Path(args.corpus).expanduser(),
            Path(args.questions).expanduser(),
            index_settings,
            sizes,
            stores,
            Path(tmp),
            fig,
        )
    print(scale.table(out["rows"]))
    if args.plot:
        from ancre.qa.measure.scaleplot import plot

        print(f"wrote {plot(out['rows'], args.plot)}")
    if args.json_out:
        payload = {"machine": machine, "sizes": sizes, "stores": stores, **out}
        print(f"wrote {write_json(args.json_out, payload)}")
    return EXIT_OK
