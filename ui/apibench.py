"""``ancre bench``'s API figures (``--only api``): what the OpenAI-compatible layer adds to an
answer, and how soon its stream shows the answer next to the page's own answer.

- overhead: ``POST /v1/chat/completions`` answered by an answerer that hands back an Answer
  already made (so the request's time is the API's: parsing, the thread hop, serialising,
  HTTP on loopback), against that answerer's own ``ask()``;
- first content chunk: the same questions asked, in turn, of the page's ``/ask`` endpoint
  (``gradio_client``, through the page's queue) and of ``/v1`` streamed, both served by one
  ``ancre chat`` in this process over the same answerer.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

from ancre.index import IndexSettings
from ancre.qa import Answer, Answerer, AnswerSettings, AnswerStream, Event
from ancre.qa.measure.report import Figures, free_port, median, percentile

OVERHEAD_REQUESTS = 200


class Replay:
    """An answerer that hands back ``answer`` at once (``ask`` and ``stream``)."""

    def __init__(self, answer: Answer):
        self.answer = answer

    def ask(self, question: str, **_: Any) -> Answer:
        return self.answer

    def stream(self, question: str, **_: Any) -> AnswerStream:
        return AnswerStream([Event("answer", self.answer.text), self.answer])


def post(conn: http.client.HTTPConnection, question: str, stream: bool) -> tuple[float, float]:
    """(seconds to the first content chunk, seconds to the whole reply) of one request."""
    body = {"model": "ancre", "messages": [{"role": "user", "content": question}]}
    t0 = time.perf_counter()
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps({**body, "stream": stream}),
        {"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"/v1/chat/completions answered {response.status}")
    if not stream:
        response.read()
        took = time.perf_counter() - t0
        return took, took
    first = 0.0
    for raw in response:
        line = raw.decode("utf-8").strip()
        if first or not line.startswith("data: {"):
            continue
        delta = json.loads(line[6:])["choices"][0]["delta"]
        if delta.get("content"):
            first = time.perf_counter() - t0
    return first, time.perf_counter() - t0


def bench_api(
    index_settings: IndexSettings,
    settings: AnswerSettings,
    questions: list[str],
    repeats: int,
    fig: Figures,
    *,
    qa: Answerer | None = None,
) -> None:
    """The API's figures for ``questions`` answered by ``qa`` (default: the answerer that
    ``settings`` and ``index_settings`` name; tests pass one over fakes)."""
    from ancre.qa import open_answerer

    from .apiserve import api_app, start
    from .openai_api import Gate
    from .serve import ServeSettings

    qa = qa or open_answerer(settings, index_settings)
    answer = qa.ask(questions[0])  # loads the models, and the Answer replayed below
    replay = Replay(answer)
    free = ServeSettings(port=free_port())
    api = start(api_app(lambda _o: replay, settings, free, Gate()), "127.0.0.1", free.port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", free.port, timeout=60)
        for _ in range(20):
            post(conn, questions[0], False)
        asked, served = [], []
        for _ in range(OVERHEAD_REQUESTS):
            t0 = time.perf_counter()
            replay.ask(questions[0])
            asked.append(time.perf_counter() - t0)
            served.append(post(conn, questions[0], False)[1])
        streamed = [post(conn, questions[0], True)[0] for _ in range(OVERHEAD_REQUESTS // 4)]
    finally:
        api.close()
    how = f"{OVERHEAD_REQUESTS} requests for an Answer made beforehand, one keep-alive client"
    fig.add("api", "overhead_p50_s", median(served) - median(asked), "s", f"p50 {how}")
    fig.add("api", "overhead_p95_s", percentile(served, 95), "s", f"p95 {how}")
    fig.add("api", "stream_first_chunk_p50_s", median(streamed), "s", "p50, the same streamed")
    _bench_page(qa, index_settings, settings, questions, repeats, fig)


def _bench_page(
    qa: Answerer,
    index_settings: IndexSettings,
    settings: AnswerSettings,
    questions: list[str],
    repeats: int,
    fig: Figures,
) -> None:
    import tempfile

    from gradio_client import Client

    from .apiserve import api_routes
    from .app import create_app
    from .chat import WebChat
    from .conversations import ConversationStore
    from .library import Library
    from .openai_api import Gate
    from .serve import ServeSettings, launch

    with tempfile.TemporaryDirectory(prefix="ancre-bench-chat-") as tmp:
        chat = WebChat(lambda _o: qa, settings, ConversationStore.beside(Path(tmp) / "index"))
        library = Library(index_settings)
        demo = create_app(chat, library)
        served = ServeSettings(port=free_port())
        launch(demo, served, None, *api_routes(chat.answerers, settings, Gate()))
        try:
            page = Client(f"http://127.0.0.1:{served.port}/", verbose=False)

            def conn() -> http.client.HTTPConnection:  # the server drops idle ones after 5 s
                return http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)

            page.predict(questions[0], 0, "", None, api_name="/ask")  # both ways warmed up
            post(conn(), questions[0], True)
            pages, firsts, direct = [], [], []
            for r in range(repeats):
                for i, q in enumerate(questions):
                    order = ("page", "api") if (r + i) % 2 == 0 else ("api", "page")
                    for way in order:
                        if way == "page":
                            t0 = time.perf_counter()
                            page.predict(q, 0, "", None, api_name="/ask")
                            pages.append(time.perf_counter() - t0)
                        else:
                            firsts.append(post(conn(), q, True)[0])
                    t0 = time.perf_counter()
                    qa.ask(q)
                    direct.append(time.perf_counter() - t0)
        finally:
            demo.close()
    n = f"{len(questions)} sample questions x {repeats}, alternating which is asked first"
    fig.add("api", "page_answer_p50_s", median(pages), "s", f"p50, the page's /ask, {n}")
    fig.add("api", "v1_first_chunk_p50_s", median(firsts), "s", f"p50, /v1 streamed, {n}")
    fig.add("api", "page_answer_p95_s", percentile(pages, 95), "s", "p95, the page's /ask")
    fig.add("api", "v1_first_chunk_p95_s", percentile(firsts, 95), "s", "p95, /v1 streamed")
    fig.add("api", "ask_p50_s", median(direct), "s", "p50, ask() in-process on the same")
    fig.add(
        "api",
        "first_chunk_vs_page",
        median(firsts) / median(pages),
        "",
        "ratio of the two p50s (goal: within 10%, under 1.10)",
    )
