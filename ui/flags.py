"""The ``ancre`` command line's flags: one argparse parser, sub-commands and their options.
Turning them into settings is ``cli.settings_from``'s job."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED = 0, 1, 3
"""Exit codes: done, failed, done with some sources skipped."""


class _Wrapped(argparse.HelpFormatter):
    """Help wrapped between words only: never inside a hyphenated word (``near-copies``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(
            " ".join(text.split()), width, break_on_hyphens=False, break_long_words=False
        )


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose sub-command parsers (of its class) wrap help like it."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Wrapped)
        super().__init__(*args, **kwargs)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index-dir", help="index directory (ANCRE_INDEX_DIR; default ~/.local/share/ancre/index)"
    )
    p.add_argument(
        "--store",
        help="where the index lives: a directory, or milvus://HOST:PORT[/COLLECTION] "
        "(ANCRE_STORE; a Milvus URI wins over --index-dir)",
    )
    p.add_argument("--store-token", help="token of a secured Milvus (ANCRE_STORE_TOKEN)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")


def _precision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--embed-precision",
        choices=["int8", "fp32"],
        help="embedding encoder (ANCRE_EMBED_PRECISION; default: the index's, int8 for a new "
        "index where OpenVINO serves the model); changing it re-embeds the index",
    )


def _index_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="files, folders, or http(s) feed or page URLs"
    )
    _precision(p)
    p.add_argument(
        "--embed-model",
        help="embedding model (ANCRE_EMBED_MODEL): folder or "
        "Hugging Face id; changing it re-embeds the index",
    )
    p.add_argument("--chunk-tokens", type=int, help="chunk length in word pieces")
    p.add_argument("--chunk-overlap", type=int, help="overlap in word pieces")
    p.add_argument(
        "--vector-index",
        choices=["auto", "flat", "ivf", "hnsw"],
        help="FAISS index kind (ANCRE_VECTOR_INDEX; auto: exact below 20,000 chunks, ivf above)",
    )
    p.add_argument("--language", help="stemmer of the lexical index (french, english, none...)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to wait for another build to finish (default: refuse at once)",
    )


def _chat_mode(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--llm-chat",
        choices=["auto", "chat", "completion"],
        help="prompt the generator through its chat template (an instruct model), or with the "
        "plain completion prompt; auto: chat where the model has a template (ANCRE_LLM_CHAT)",
    )


def _api_key(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--api-key",
        help="bearer token the API (/v1) requires, several separated by commas (ANCRE_API_KEY; "
        "prefer the variable: a flag shows in the process list)",
    )


def installed_version() -> str:
    """The installed package's version (``unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ancre")
    except PackageNotFoundError:
        return "unknown"


class _Version(argparse.Action):
    """``--version``, the installed version read only when asked for: reading the package
    metadata for every parser would slow every command, a warm ``ancre ask`` first."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any):
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"ancre {installed_version()}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="ancre",
        description="Ask questions about your articles; get short answers with checked "
        "citations. Local and offline.",
    )
    ap.add_argument("--version", action=_Version, help="show the installed version and exit")
    sub = ap.add_subparsers(dest="command", required=True)

    idx = sub.add_parser("index", help="build and manage the index")
    isub = idx.add_subparsers(dest="action", required=True)
    b = isub.add_parser("build", help="index SOURCEs incrementally (unchanged files are skipped)")
    _common(b)
    _index_options(b)
    b.add_argument(
        "--prune",
        action="store_true",
        help="remove indexed documents that are not in SOURCEs any more",
    )
    b.add_argument("--rebuild", action="store_true", help="re-embed every document")
    a = isub.add_parser("add", help="add or update documents (same as build, never prunes)")
    _common(a)
    _index_options(a)
    w = isub.add_parser(
        "watch", help="build SOURCEs (folders, files, feed and page URLs) again on a schedule"
    )
    _common(w)
    _index_options(w)
    w.add_argument("--every", default="30m", help="interval: 45s, 30m, 2h, 1d (default 30m)")
    w.add_argument("--runs", type=int, help="stop after this many runs (default: never)")
    rp = isub.add_parser(
        "repair",
        help="rebuild the vectors and lexical files from the index store (a damaged or "
        "missing file), without reading the sources again",
    )
    _common(rp)
    rp.add_argument("--json", action="store_true", help="print the report as JSON")
    rp.add_argument("--wait", type=float, default=0.0, help="seconds to wait for another build")
    r = isub.add_parser(
        "remove", help="remove documents by id, or every document of a file or folder"
    )
    _common(r)
    r.add_argument(
        "doc_ids",
        nargs="+",
        metavar="DOC_ID_OR_PATH",
        help="a document id (as `ancre index list` prints it), or an indexed file or folder: "
        "all of its documents",
    )
    ls = isub.add_parser("list", help="list indexed documents")
    _common(ls)
    ls.add_argument(
        "--json", action="store_true", help="print the documents as JSON (id, title, date...)"
    )
    st = isub.add_parser("stats", help="index statistics and how it was built")
    _common(st)
    st.add_argument("--json", action="store_true", help="print the statistics as JSON")
    st.add_argument(
        "--check", action="store_true", help="also read every page of the store (SQLite's check)"
    )

    q = sub.add_parser("ask", help="answer a question from the index")
    _common(q)
    q.add_argument(
        "question",
        nargs="?",
        help="the question, in any language (quote it: one argument); with -i, the first one",
    )
    q.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="a conversation: each line read is a question, asked with the ones before it "
        "(follow-ups such as « Et en 2025 ? » work); Ctrl-D ends it",
    )
    _precision(q)
    q.add_argument(
        "--json",
        action="store_true",
        help="print the Answer as JSON (with -i: one JSON object per line, per answer)",
    )
    q.add_argument("--top-k", type=int, help="passages to retrieve (ANCRE_TOP_K)")
    q.add_argument(
        "--llm",
        help="gemma, smollm2, none, a .gguf path, hf:REPO/FILE.gguf or "
        "openai:http://HOST:PORT/v1 (ANCRE_LLM)",
    )
    _chat_mode(q)
    q.add_argument(
        "--temperature",
        type=float,
        help="sampling temperature of the generator (ANCRE_TEMPERATURE; default 0: the same "
        "answer every time, as fits a factual tool)",
    )
    q.add_argument("--since", help="only documents dated on or after (YYYY-MM-DD)")
    q.add_argument("--until", help="only documents dated on or before (YYYY-MM-DD)")
    q.add_argument("--source", help="only documents whose title, url or id contains this")
    q.add_argument(
        "--cold",
        action="store_true",
        help="answer in this process even where an `ancre chat` or `ancre serve` of the same "
        "index runs (by default it answers, over a socket only you can open)",
    )

    c = sub.add_parser("chat", help="open the web chat")
    _common(c)
    c.add_argument("--host", help="address to listen on (ANCRE_HOST; default 127.0.0.1)")
    _precision(c)
    c.add_argument("--port", type=int, help="port (ANCRE_PORT; default 7860)")
    c.add_argument(
        "--auth",
        help="USER:PASSWORD required to open the page, several separated by commas "
        "(ANCRE_AUTH; prefer --auth-file or the variable: a flag shows in the process list)",
    )
    c.add_argument("--auth-file", help="file of USER:PASSWORD lines (ANCRE_AUTH_FILE)")
    _api_key(c)
    c.add_argument(
        "--allow-dir",
        action="append",
        metavar="DIR",
        help="a server folder the page may index (repeatable; ANCRE_ALLOW_DIR). "
        "Without it the page indexes uploads only",
    )
    c.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="a host name the page answers to besides localhost (repeatable; "
        "ANCRE_ALLOW_HOST); other Host headers are refused",
    )
    c.add_argument(
        "--allow-private-urls",
        action="store_true",
        default=None,
        help="let the Documents tab read URLs of this machine and its private network "
        "(refused by default: the page must not become a way to read internal addresses)",
    )
    c.add_argument(
        "--share", action="store_true", default=None, help="also open a public Gradio link"
    )
    c.add_argument("--llm", help="generator (see `ancre ask --help`)")
    _chat_mode(c)
    c.add_argument(
        "--no-sample",
        action="store_true",
        default=None,
        help="do not index the bundled sample articles when the index is empty",
    )

    sv = sub.add_parser("serve", help="serve the OpenAI-compatible API (/v1) without the page")
    _common(sv)
    sv.add_argument("--host", help="address to listen on (ANCRE_HOST; default 127.0.0.1)")
    _precision(sv)
    sv.add_argument("--port", type=int, help="port (ANCRE_PORT; default 7860)")
    sv.add_argument(
        "--auth",
        help="USER:PASSWORD accounts, as for `ancre chat` (ANCRE_AUTH); a client "
        "sends USER:PASSWORD as its API key",
    )
    sv.add_argument("--auth-file", help="file of USER:PASSWORD lines (ANCRE_AUTH_FILE)")
    _api_key(sv)
    sv.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="a host name the API answers to besides localhost (repeatable; ANCRE_ALLOW_HOST)",
    )
    sv.add_argument("--llm", help="generator (see `ancre ask --help`)")
    _chat_mode(sv)
    sv.add_argument(
        "--no-sample",
        action="store_true",
        default=None,
        help="do not index the bundled sample articles when the index is empty",
    )

    m = sub.add_parser("mcp", help="serve the MCP tools (search, ask, list_documents) on stdio")
    _common(m)
    _precision(m)
    m.add_argument("--llm", help="generator (see `ancre ask --help`)")
    _chat_mode(m)

    e = sub.add_parser("eval", help="measure answer quality on a question set")
    _common(e)
    e.add_argument("questions", nargs="*", help="JSON Lines or SQuAD-format JSON files")
    _precision(e)
    e.add_argument("--corpus", nargs="+", metavar="SOURCE", help="articles to index first")
    e.add_argument("--limit", type=int, help="questions per file (sampled with --seed)")
    e.add_argument(
        "--split",
        choices=["train", "validation", "all"],
        default="all",
        help="only the questions of these articles (70/30 by a hash of doc_id): the learned "
        "models are fitted on train and judged on validation",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    e.add_argument(
        "--json",
        dest="json_out",
        metavar="OUT",
        help="write per-question rows, and beside them OUT.png: the precision-coverage curve "
        "of stated answers and the reliability of their confidence",
    )
    e.add_argument("--retrieval-only", action="store_true", help="skip generation")
    e.add_argument(
        "--compare", nargs=2, metavar=("A.json", "B.json"), help="compare two --json outputs"
    )
    e.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the abstention model on answerable vs unanswerable questions (with "
        "--weights-out: also the reranker and span models, and write them all there)",
    )
    e.add_argument(
        "--weights-out",
        metavar="DIR",
        help="with --calibrate: write the fitted models (JSON) into DIR (qa/weights to refit "
        "the shipped ones)",
    )
    e.add_argument(
        "--fit-confidence",
        metavar="RUN.json",
        help="fit the confidence of short answers on the rows of an `ancre eval --json` run "
        "(of the training articles: --split train), print the precision and coverage of "
        "stated answers by threshold; with --weights-out, write confidence.json there",
    )
    e.add_argument(
        "--feedback-out",
        metavar="FILE.jsonl",
        help="write the answers rated in the web chat (beside the index: --index-dir) as a "
        "question set for `ancre eval`: a 👍 keeps its answer as the gold one, a 👎 its "
        "correction (or none: it then counts for abstention only)",
    )
    e.add_argument("--llm", help="generator (see `ancre ask --help`)")
    _chat_mode(e)
    e.add_argument("--top-k", type=int, help="passages to retrieve (ANCRE_TOP_K)")

    be = sub.add_parser("bench", help="measure speed, memory and scale")
    _common(be)
    be.add_argument("--corpus", metavar="SOURCE", help="articles (default: the bundled sample)")
    be.add_argument(
        "--questions",
        metavar="FILE",
        help="questions asked of --corpus, JSON Lines or SQuAD JSON (default: the sample's "
        "QUESTIONS.md); the ask bench takes 20 of them; --scale hides their articles among filler",
    )
    be.add_argument(
        "--sizes", default="1000,10000,100000", help="index sizes in chunks for retrieval latency"
    )
    be.add_argument(
        "--json", dest="json_out", metavar="OUT", help="also write the figures as JSON to OUT"
    )
    be.add_argument("--llm", help="generator (see `ancre ask --help`)")
    _chat_mode(be)
    be.add_argument("--quick", action="store_true", help="fewer repetitions")
    be.add_argument(
        "--html",
        metavar="CORPUS_DIR",
        help="instead: score the reader of web pages on a corpus laid out like trafilatura's "
        "tests/ (evaldata.json, eval/, cache/): precision, recall, F1, boilerplate kept, "
        "pages refused, pages per second against ancre's former reader",
    )
    be.add_argument(
        "--copies",
        metavar="DIR",
        help="instead: index DIR/corpus.jsonl with and without near-copies of 30%% of its "
        "articles and compare recall@5 and distinct stories in the top 5 of "
        "DIR/questions.jsonl",
    )
    be.add_argument(
        "--scale",
        metavar="SIZES",
        help="instead: grow a store to each of SIZES chunks (10000,100000,...) with the "
        "--corpus articles that --questions asks about hidden among filler, and measure build, "
        "disk, memory, open, search, answer latency and recall@5 at each (docs/scale.md)",
    )
    be.add_argument(
        "--scale-store",
        choices=["directory", "milvus", "both"],
        default="directory",
        help="--scale: the store(s) grown (milvus: a milvus-lite server on 127.0.0.1)",
    )
    be.add_argument(
        "--vector-index",
        choices=["auto", "flat", "ivf", "hnsw"],
        help="--scale: FAISS index kind of the directory store (ANCRE_VECTOR_INDEX)",
    )
    be.add_argument(
        "--work", metavar="DIR", help="--scale: where the stores grow (default: a temporary folder)"
    )
    be.add_argument("--plot", metavar="PNG", help="--scale: draw the curves into PNG")
    be.add_argument(
        "--only",
        metavar="BENCHES",
        help="some of ingestion, recipe, embedding, retrieval, generation, cold_start, ask, "
        "api, separated by commas "
        "(default: all; recipe = ancre index build against the LangChain tutorial's recipe; "
        "ask = `ancre ask` cold, with a server of the index running, and against the "
        "tutorial's question side; "
        "api = the OpenAI-compatible API's overhead and first streamed chunk)",
    )

    cf = sub.add_parser("config", help="show the settings in effect")
    _common(cf)
    return ap
