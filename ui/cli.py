"""The ``ancre`` command line. Heavy libraries are imported inside the commands, so
``ancre --help`` answers at once."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ancre.index.settings import IndexSettings, describe, from_env

from .flags import parser

if TYPE_CHECKING:
    from ancre.qa.settings import AnswerSettings

log = logging.getLogger("ancre")

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED = 0, 1, 3


def settings_from(args: argparse.Namespace) -> tuple[IndexSettings, AnswerSettings]:
    """The write path's and the read path's settings: defaults, then ``ANCRE_*``, then the
    flags given (this is the one place that reads them)."""
    from ancre.qa.settings import AnswerSettings

    flags = {k: v for k, v in vars(args).items() if v is not None}
    return (
        from_env(IndexSettings, only_known=True, **flags),
        from_env(AnswerSettings, only_known=True, **flags),
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        index_settings, answer_settings = settings_from(args)
        if args.command == "index":
            return cmd_index(args, index_settings)
        if args.command == "ask":
            return cmd_ask(args, index_settings, answer_settings)
        if args.command == "chat":
            from .serve import ServeSettings, serve

            flags = {k: v for k, v in vars(args).items() if v is not None}
            serve_settings = from_env(ServeSettings, only_known=True, **flags)
            return serve(serve_settings, index_settings, answer_settings)
        if args.command == "serve":
            from .serve import ServeSettings, serve_api

            flags = {k: v for k, v in vars(args).items() if v is not None}
            serve_settings = from_env(ServeSettings, only_known=True, **flags)
            return serve_api(serve_settings, index_settings, answer_settings)
        if args.command == "mcp":
            from .serve import serve_stdio

            return serve_stdio(index_settings, answer_settings)
        if args.command == "eval":
            return cmd_eval(args, index_settings, answer_settings)
        if args.command == "bench":
            return cmd_bench(args, index_settings, answer_settings)
        if args.command == "config":
            for name, value in describe(index_settings) + describe(answer_settings):
                print(f"{name} = {value!r}")
            return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, KeyError, sqlite3.DatabaseError) as err:
        print(f"ancre: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


def cmd_index(args: argparse.Namespace, settings: IndexSettings) -> int:
    from ancre import index

    if args.action in ("build", "add", "repair"):
        report = index.build(
            getattr(args, "sources", []),
            settings=settings,
            prune=getattr(args, "prune", False),
            rebuild=getattr(args, "rebuild", False),
            progress=sys.stderr.isatty(),
            wait=args.wait,
        )
        if args.json:
            print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        else:
            if report.reembedded:
                print(f"re-embedded everything: {report.reembedded}")
            if report.rekeyed:
                print(f"{report.rekeyed} documents of an older index given collision-free ids")
            if report.renamed:
                print(f"{report.renamed} renamed or moved files kept their documents")
            print(
                f"{report.added} added, {report.updated} updated, {report.removed} removed, "
                f"{report.unchanged} unchanged, {len(report.skipped)} skipped"
                + (f", {report.near_copies} near-copies" if report.near_copies else "")
                + "; "
                f"{report.chunks} chunks embedded in {report.seconds:.1f} s"
            )
            print(
                f"index: {report.documents_total} documents, {report.chunks_total} chunks "
                f"in {index.describe_location(settings)}"
            )
            for s in report.skipped:
                print(f"skipped {s}", file=sys.stderr)
            for w in report.warnings:
                print(f"warning {w}", file=sys.stderr)
            if report.gone:
                files = "file no longer exists" if report.gone == 1 else "files no longer exist"
                them = "it" if report.gone == 1 else "them"
                print(f"{report.gone} indexed {files}: --prune removes {them}", file=sys.stderr)
        return EXIT_SKIPPED if report.skipped else EXIT_OK
    if args.action == "watch":
        return cmd_watch(args, settings)
    if args.action == "remove":
        removed, missing = index.remove(args.doc_ids, settings=settings)
        print(f"{len(removed)} removed")
        for d in missing:
            print(f"not in the index: {d}", file=sys.stderr)
        return EXIT_SKIPPED if missing else EXIT_OK
    with index.open_reader(settings) as reader:
        docs = reader.documents() if args.action == "list" else []
        stats = reader.stats() if args.action == "stats" else {}
        if getattr(args, "check", False):
            check = getattr(reader, "check_store", None)  # a Milvus store checks itself
            if check is not None:
                check()
            stats["store_check"] = "ok"
    if args.action == "list":
        if args.json:
            print(json.dumps(docs, ensure_ascii=False, indent=2))
        else:
            for d in docs:
                doc_id, title = index.printable(d["doc_id"]), index.printable(d["title"] or "")
                print(f"{doc_id}\t{d['date'] or '-'}\t{d['n_chunks']} chunks\t{title}")
        return EXIT_OK
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key}: {value}")
    return EXIT_OK


STAGES = {"retrieving": "recherche…", "drafting": "rédaction…", "verifying": "vérification…"}


def cmd_ask(
    args: argparse.Namespace, index_settings: IndexSettings, settings: AnswerSettings
) -> int:
    """The verified answer. On a terminal the stage names are shown on stderr while it is
    made; the model's unverified draft is never printed as if it were the answer."""
    from ancre.qa.reading import nlp

    nlp.preload(index_settings.language)  # a fresh process: load spaCy while the rest imports
    from ancre.qa import Filters, ask

    filters = Filters(args.since or "", args.until or "", args.source or "")
    stream = ask(
        args.question,
        settings=settings,
        index_settings=index_settings,
        filters=filters or None,
        stream=True,
    )
    live = not args.json and sys.stderr.isatty()
    for event in stream:
        if live and event.kind == "stage":
            print(
                f"\r\033[K{STAGES.get(event.text, event.text)}", end="", file=sys.stderr, flush=True
            )
    if live:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    answer = stream.answer()
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    print(format_answer(answer, mark=sys.stdout.isatty()))
    return EXIT_OK


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
            "give question files (JSON Lines or SQuAD JSON), --compare A B or --fit-confidence RUN"
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


def cmd_watch(args: argparse.Namespace, settings: IndexSettings) -> int:
    """Build the sources every ``--every``, one line per run, until interrupted."""
    from ancre import index

    from .watch import parse_every, watch

    every = parse_every(args.every)

    def once() -> str:
        r = index.build(args.sources, settings=settings, wait=every)
        for s in r.skipped:
            print(f"skipped {s}", file=sys.stderr)
        return (
            f"{r.added} added, {r.updated} updated, {r.unchanged} unchanged, "
            f"{len(r.skipped)} skipped, {r.near_copies} near-copies; "
            f"{r.documents_total} documents ({r.seconds:.1f} s)"
        )

    watch(once, every, runs=args.runs, show=lambda line: print(line, flush=True))
    return EXIT_OK


def cmd_bench(
    args: argparse.Namespace, index_settings: IndexSettings, settings: AnswerSettings
) -> int:
    """``ancre bench`` on the corpus (default: the sample articles, asked their
    QUESTIONS.md); figures are printed as they are measured."""
    import time
    from dataclasses import asdict

    from ancre.qa.measure import bench
    from ancre.qa.measure.questions import read_question_table
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
        questions=read_question_table(ARTICLES.parent / "QUESTIONS.md"),
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


UNDERLINE = ("\x1b[4m", "\x1b[24m")


def format_answer(answer, mark: bool = False) -> str:
    """The answer as ``ancre ask`` prints it: its text, its sources, how it was given. With
    ``mark`` (a terminal), the likely answer of an evidence answer is underlined in its quote:
    what to look at, not a claim."""
    from .i18n import t

    text = answer.text
    if mark and answer.mode == "evidence" and answer.likely_answer in text:
        text = text.replace(answer.likely_answer, answer.likely_answer.join(UNDERLINE), 1)
    lines = [text, ""]
    for c in answer.citations:
        where = " · ".join(x for x in (c.date, c.url or c.doc_id) if x)
        lines.append(f"[{c.number}] {c.title} ({where})")
        if c.also:
            names = ", ".join(dict.fromkeys(a.name for a in c.also))
            lines.append("    " + t(answer.language, "also_published", names=names))
    sure = f", {answer.confidence:.0%} sure" if answer.mode in ("stated", "evidence") else ""
    lines.append(f"({answer.mode}{sure}, {answer.timings.get('total', 0):.1f} s)")
    return "\n".join(lines)


def run() -> None:
    """The ``ancre`` command. After a one-shot ``ancre ask`` the process ends at once: tearing
    down llama.cpp, OpenVINO and spaCy took 0.65 s of a 4.2 s fresh answer, and nothing is
    left to write (the index is only read; the prompt state file is written before)."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv[:1] == ["ask"]:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
