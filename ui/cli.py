"""The ``ancre`` command line. Heavy libraries are imported inside the commands, so
``ancre --help`` answers at once."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ancre.index.settings import IndexSettings, describe, from_env

from .flags import EXIT_ERROR, EXIT_OK, EXIT_SKIPPED, parser
from .measuring import cmd_bench, cmd_eval

if TYPE_CHECKING:
    from ancre.qa import Answerer
    from ancre.qa.records import Answer
    from ancre.qa.settings import AnswerSettings

log = logging.getLogger("ancre")


def settings_from(args: argparse.Namespace) -> tuple[IndexSettings, AnswerSettings]:
    """The write path's and the read path's settings: defaults, then ``ANCRE_*``, then the
    flags given (this is the one place that reads them)."""
    from ancre.qa.settings import AnswerSettings

    flags = {k: v for k, v in vars(args).items() if v is not None}
    return (
        from_env(IndexSettings, only_known=True, **flags),
        from_env(AnswerSettings, only_known=True, **flags),
    )


class _Said(logging.Formatter):
    """ancre's own notices as a user reads them (``ancre: preparing the model…``); other
    libraries' and every detail of ``-v`` with their level and logger."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == logging.WARNING and record.name.partition(".")[0] == "ancre":
            return f"ancre: {record.getMessage()}"
        return super().format(record)


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Said("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        index_settings, answer_settings = settings_from(args)
        if args.command == "index":
            return cmd_index(args, index_settings)
        if args.command == "ask" and (args.interactive or not args.question):
            return cmd_conversation(args, index_settings, answer_settings)
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
    except BrokenPipeError:  # `ancre index list | head`: the reader has what it wanted
        return _pipe_closed()
    except (ValueError, OSError, RuntimeError, KeyError, sqlite3.DatabaseError) as err:
        print(f"ancre: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


def _pipe_closed() -> int:
    """Stdout's reader went away: nothing more to say, and nothing to flush at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


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
    """The verified answer: from the warm ``ancre chat`` / ``ancre serve`` of the same index
    where one runs (unless ``--cold``), else made here. On a terminal the stage names are
    shown on stderr while it is made; the model's unverified draft is never printed as if it
    were the answer."""
    live = not args.json and sys.stderr.isatty()
    filters = {
        "date_from": args.since or "",
        "date_to": args.until or "",
        "source": args.source or "",
    }
    answer = (
        None if args.cold else warm_answer(args.question, settings, index_settings, filters, live)
    )
    if answer is None:
        answer = cold_answer(args.question, settings, index_settings, filters, live)
    if live:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    print(format_answer(answer, mark=sys.stdout.isatty()))
    return EXIT_OK


def cmd_conversation(
    args: argparse.Namespace,
    index_settings: IndexSettings,
    settings: AnswerSettings,
    lines: Iterable[str] | None = None,
    qa: Answerer | None = None,
) -> int:
    """``ancre ask -i``: each line read (``lines``, default stdin) is a question, asked with
    the conversation before it as ``Turn``s, over one answerer loaded once (``qa``, default
    the settings'); the end of the input (Ctrl-D) ends it."""
    if not args.interactive:
        raise ValueError("give a question, or -i for a conversation read line by line")
    from ancre.qa import Filters, Turn, open_answerer

    qa = qa or open_answerer(settings, index_settings)
    filters = Filters(args.since or "", args.until or "", args.source or "") or None
    history: list[Turn] = []
    first = [args.question] if args.question else []
    for line in itertools.chain(first, _typed_questions() if lines is None else lines):
        question = line.strip()
        if not question:
            continue
        answer = qa.ask(question, history=list(history), filters=filters)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(format_answer(answer, mark=sys.stdout.isatty()) + "\n", flush=True)
        history += [Turn("user", question), Turn("assistant", answer.text)]
    return EXIT_OK


def _typed_questions() -> Iterator[str]:
    """The lines of stdin. Typed at a terminal, each after a prompt, with line editing and
    the questions before a key press away (``input``); piped, read as they come."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        yield from sys.stdin
        return
    import readline  # noqa: F401  (line editing and history for input())

    print("ancre: one question per line; Ctrl-D ends", file=sys.stderr)
    while True:
        try:
            yield input("? ")
        except EOFError:
            print()
            return


def show_stage(stage: str) -> None:
    print(f"\r\033[K{STAGES.get(stage, stage)}", end="", file=sys.stderr, flush=True)


def warm_answer(
    question: str,
    settings: AnswerSettings,
    index_settings: IndexSettings,
    filters: dict[str, str],
    live: bool,
) -> Answer | None:
    """The answer of the warm process of this index (``ui/warm.py``), or None: answer cold
    (with a one-line note where a warm process could not answer)."""
    from .warm import ask_warm

    reply = ask_warm(
        question, settings, index_settings, filters, on_stage=show_stage if live else None
    )
    if reply.note:
        print(f"ancre: {reply.note}", file=sys.stderr)
    if reply.answer is None:
        return None
    from ancre.qa import Answer

    return Answer.from_dict(reply.answer)


def cold_answer(
    question: str,
    settings: AnswerSettings,
    index_settings: IndexSettings,
    filters: dict[str, str],
    live: bool,
) -> Answer:
    """The answer made in this process, models loaded; ``timings['cold']`` counts from here."""
    import time

    t0 = time.perf_counter()
    from ancre.qa.reading import nlp

    nlp.preload(index_settings.language)  # the longest load starts before the imports
    from ancre.qa.api import preload

    preload(settings, index_settings)  # the others side by side with it
    from ancre.qa import Filters, ask

    stream = ask(
        question,
        settings=settings,
        index_settings=index_settings,
        filters=Filters(**filters) or None,
        stream=True,
    )
    for event in stream:
        if live and event.kind == "stage":
            show_stage(event.text)
    answer = stream.answer()
    answer.timings["cold"] = time.perf_counter() - t0
    return answer


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
    warm = ", warm" if "warm" in answer.timings else ""
    lines.append(f"({answer.mode}{sure}, {answer.timings.get('total', 0):.1f} s{warm})")
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
