"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions`` (plain,
or streamed as server-sent events), so that chat front ends and the ``openai`` client ask
ancre like any model.

The last user message is the question and the earlier turns its history. The reply's
``content`` is the answer with its [n] markers and a list of sources; the structured
citations come in an extra top-level ``citations`` field and the rest of the Answer (mode,
short answer, evidence...) in ``ancre``. A client's ``model`` names an index, never a
generator: answers are made with the settings the operator gave, whatever the request
says. Starlette is imported inside ``create_api`` (``ancre --help`` stays instant).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ancre.qa import Answer, AnswerSettings

from .i18n import t

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from .chat import AnswererFactory

MODEL = "ancre"
"""The model id of the served index."""
CAPACITY = 16
"""Answers made or waiting at once; one more request gets a 429."""
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = (
            status,
            message,
            code,
            param,
            kind,
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


class Gate:
    """Who may call: a bearer token among ``keys``, or one of the page's ``accounts`` given
    as the token ``USER:PASSWORD`` or with HTTP Basic. Open when neither is set."""

    def __init__(self, keys: Iterable[str] = (), accounts: Iterable[tuple[str, str]] = ()):
        self.keys = [k for k in keys if k]
        self.accounts = [f"{u}:{p}" for u, p in accounts]

    @property
    def open(self) -> bool:
        return not self.keys and not self.accounts

    def allows(self, authorization: str) -> bool:
        if self.open:
            return True
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer":
            return any(hmac.compare_digest(token, k) for k in self.keys + self.accounts)
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(token, validate=True).decode("utf-8")
            except ValueError:
                return False
            return any(hmac.compare_digest(pair, a) for a in self.accounts)
        return False


class Slots:
    """A count of the answers in progress or waiting; ``take`` refuses beyond ``capacity``."""

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.capacity:
                return False
            self.used += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.used -= 1


def text_of(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    raise ApiError(400, "a message's content must be a string or a list of parts", None, "content")


def read_request(body: Any, max_chars: int) -> tuple[str, str, list[dict], bool]:
    """(model, question, history, stream) of a chat completion request; fields other than
    these are ignored."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(
            400, "you must provide a model parameter", "missing_required_parameter", "model"
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty array", None, "messages")
    turns = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            roles = ", ".join(ROLES)
            raise ApiError(400, f"messages[{i}]: a role among {roles} is required", None, "role")
        turns.append({"role": m["role"], "content": strip_sources(text_of(m.get("content")))})
    last = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
    if last is None:
        raise ApiError(400, "no user message: the last one is the question", None, "messages")
    question = " ".join(turns[last]["content"].split())
    if not question:
        raise ApiError(400, "the question (the last user message) is empty", None, "messages")
    if len(question) > max_chars:
        raise ApiError(
            400,
            f"the question is {len(question)} characters long; the limit is {max_chars}",
            "question_too_long",
            "messages",
        )
    history = [m for m in turns[:last] if m["role"] in ("user", "assistant")]
    return model, question, history, body.get("stream") is True


SOURCES_MARK = "\n\n---\n"
"""Separates the answer from its list of sources in ``content`` (and is cut off the
assistant turns a client sends back as history)."""


def strip_sources(text: str) -> str:
    return text.split(SOURCES_MARK, 1)[0]


def content(answer: Answer) -> str:
    """The answer's text with [n] markers, then its sources as readable lines."""
    if not answer.citations:
        return answer.text
    label = t(answer.language, "sources_label")
    lines = [f"{label} :" if answer.language == "fr" else f"{label}:"]
    for c in answer.citations:
        where = " · ".join(x for x in (c.date, c.url or c.doc_id) if x)
        lines.append(f"[{c.number}] {c.title}" + (f" ({where})" if where else ""))
    return answer.text + SOURCES_MARK + "\n".join(lines)


def citations(answer: Answer) -> list[dict[str, Any]]:
    """Each citation's fields, the cited passage's text as ``passage``."""
    out = []
    for c in answer.citations:
        d = asdict(c)
        d["passage"] = d.pop("text")
        out.append(d)
    return out


def extras(answer: Answer) -> dict[str, Any]:
    """The top-level fields OpenAI's schema lacks: ``citations`` and the rest of the Answer
    under ``ancre`` (every field but its text, citations and passages)."""
    rest = {k: v for k, v in answer.to_dict().items() if k not in ("text", "citations", "passages")}
    return {"citations": citations(answer), "ancre": rest}


def completion(answer: Answer, model: str, cid: str, created: int) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content(answer)},
                "finish_reason": "stop",
            }
        ],
        **extras(answer),
    }


def chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **more):
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **more,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def create_api(
    answerers: AnswererFactory,
    settings: AnswerSettings,
    *,
    gate: Gate | None = None,
    model: str = MODEL,
    capacity: int = CAPACITY,
) -> Starlette:
    """The ``/v1`` app: answers with ``answerers(settings)`` (the operator's generator, the
    operator's options), callers checked by ``gate``, at most ``capacity`` answers at once."""
    from starlette.applications import Starlette
    from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    gate = gate or Gate()
    slots = Slots(capacity)

    def error(err: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse(err.body(), status_code=err.status, headers=headers)

    def check(request: Request, model_id: str | None = None) -> None:
        if not gate.allows(request.headers.get("authorization", "")):
            raise ApiError(401, "Incorrect API key provided.", "invalid_api_key")
        if model_id is not None and model_id != model:
            raise ApiError(
                404, f"The model `{model_id}` does not exist.", "model_not_found", "model"
            )

    def model_card() -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 0, "owned_by": "ancre"}

    async def models(request: Request) -> Response:
        try:
            check(request, request.path_params.get("model"))
        except ApiError as err:
            return error(err)
        if "model" in request.path_params:
            return JSONResponse(model_card())
        return JSONResponse({"object": "list", "data": [model_card()]})

    async def chat_completions(request: Request) -> Response:
        try:
            check(request)
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                raise ApiError(400, "the request body is not valid JSON") from None
            asked_model, question, history, stream = read_request(body, settings.max_question_chars)
            check(request, asked_model)
            if not slots.take():
                busy = "too many questions at once; retry shortly"
                raise ApiError(429, busy, "rate_limit_exceeded", kind="requests")
        except ApiError as err:
            return error(err)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not stream:
            try:
                answer = await run_in_threadpool(
                    lambda: answerers(settings).ask(question, history=history, options=settings)
                )
            except Exception as err:
                return error(ApiError(500, f"the answer failed: {err}", None, None, "server_error"))
            finally:
                slots.give()
            return JSONResponse(completion(answer, asked_model, cid, created))
        return StreamingResponse(
            sse(question, history, asked_model, cid, created),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def sse(
        question: str, history: list[dict], model_id: str, cid: str, created: int
    ) -> AsyncIterator[str]:
        parts = None
        try:
            yield chunk(cid, created, model_id, {"role": "assistant", "content": ""})
            parts = await run_in_threadpool(
                lambda: answerers(settings).stream(question, history=history, options=settings)
            )
            async for event in iterate_in_threadpool(iter(parts)):
                if event.kind == "stage":
                    yield f": {event.text}\n\n"  # a comment: clients skip it, proxies see life
            answer = parts.answer()
            more = extras(answer)
            yield chunk(cid, created, model_id, {"content": content(answer)}, **more)
            yield chunk(cid, created, model_id, {}, "stop", **more)
        except Exception as err:
            failure = ApiError(500, f"the answer failed: {err}", None, None, "server_error")
            yield f"data: {json.dumps(failure.body(), ensure_ascii=False)}\n\n"
        finally:
            slots.give()
            if parts is not None:
                with contextlib.suppress(ValueError):  # still running in its thread: it ends
                    parts.close()
        yield "data: [DONE]\n\n"

    return Starlette(
        routes=[
            Route("/models", models, methods=["GET"]),
            Route("/models/{model:path}", models, methods=["GET"]),
            Route("/chat/completions", chat_completions, methods=["POST"]),
        ]
    )
