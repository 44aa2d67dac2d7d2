"""ancre as a Model Context Protocol server (the official ``mcp`` SDK): the tools
``search``, ``ask`` and ``list_documents``, and each indexed document as a resource
(``ancre://documents/{doc_id}``). ``ancre mcp`` serves it over stdio for desktop clients;
``ancre chat`` and ``ancre serve`` mount it over streamable HTTP at ``/mcp``.

Answers are made as the operator configured them (generator, options); a tool's arguments
only say what to look for.
"""

import contextlib
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, unquote

from ancre.qa import AnswerSettings, Filters

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from .chat import AnswererFactory
    from .openai_api import Gate

INSTALL = 'the MCP server needs the mcp package: pip install "ancre[mcp]"'
URI = "ancre://documents/{doc_id}"
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
MAX_K = 50

INSTRUCTIONS = (
    "ancre answers questions from a local collection of news articles, citing them. Use "
    "`ask` for a question of fact: it returns a short, checked answer with numbered "
    "citations, or says that the articles do not tell (then do not answer from memory as if "
    "the articles said it). Use `search` to read the passages themselves, and "
    "`list_documents` to see which articles there are; each one can be read in full as the "
    "resource ancre://documents/{doc_id}."
)


def has_mcp() -> bool:
    from importlib.util import find_spec

    return find_spec("mcp") is not None


def require_mcp() -> None:
    if not has_mcp():
        raise RuntimeError(INSTALL)


def document_uri(doc_id: str) -> str:
    return URI.format(doc_id=quote(doc_id, safe=""))


def filters(since: str, until: str, source: str) -> Filters | None:
    """The tool's date and source filters; a ToolError for a date that is not ISO."""
    from mcp.server.mcpserver.exceptions import ToolError

    for name, value in (("since", since), ("until", until)):
        if value and not DATE.match(value):
            raise ToolError(
                f"{name}: expected a date as YYYY, YYYY-MM or YYYY-MM-DD, got {value!r}"
            )
    chosen = Filters(since, until, source.strip())
    return chosen or None


def document_resource(reader: Any, doc_id: str) -> str:
    """One indexed article as the resource gives it: its title, date and url, then its text
    (``StoreReader.document``); ``LookupError`` where the index holds no such document."""
    doc = reader.document(doc_id)
    if doc is None:
        raise LookupError(f"no document {doc_id!r} in the index")
    lines = [doc.title or doc_id, " · ".join(x for x in (doc.date, doc.url) if x)]
    return "\n".join(x for x in lines if x) + "\n\n" + doc.text


def create_mcp(answerers: "AnswererFactory", settings: AnswerSettings) -> "MCPServer":
    """The MCP server over the answers of ``answerers(settings)``."""
    require_mcp()
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError
    from mcp.types import Resource, ToolAnnotations
    from pydantic import Field

    def qa():
        return answerers(settings)

    class AncreServer(MCPServer):
        async def list_resources(self) -> list[Resource]:
            docs = await anyio.to_thread.run_sync(qa().retriever.reader.documents)
            return [
                Resource(
                    uri=document_uri(d["doc_id"]),
                    name=d["doc_id"],
                    title=d["title"] or d["doc_id"],
                    description=" · ".join(x for x in (d["date"], d["url"]) if x) or None,
                    mime_type="text/plain",
                )
                for d in docs
            ]

    server = AncreServer("ancre", instructions=INSTRUCTIONS, log_level="WARNING")
    reading = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    Query = Annotated[str, Field(min_length=1, description="What to look for, in words")]
    K = Annotated[int, Field(ge=1, le=MAX_K, description="How many passages (1 to 50)")]
    Since = Annotated[str, Field(description="Only articles dated on or after (YYYY-MM-DD)")]
    Until = Annotated[str, Field(description="Only articles dated on or before (YYYY-MM-DD)")]
    Source = Annotated[str, Field(description="Only articles whose title, url or id has this")]
    Question = Annotated[str, Field(min_length=1, description="The question, in full")]
    Narrow = Annotated[str, Field(description="Keep those whose title, date or url has this")]

    @server.tool(annotations=reading, structured_output=True)
    async def search(
        query: Query, k: K = 5, since: Since = "", until: Until = "", source: Source = ""
    ) -> dict[str, Any]:
        """Find the passages of the indexed news articles that best match `query` (words and
        meaning), best first. Each passage has its id, the article's doc_id, title, date,
        url, the passage's text and its uri (read the whole article there). Use it to read
        the sources yourself; to get a checked answer to a question, use `ask`."""
        chosen = filters(since, until, source)
        s = settings

        def run() -> list:
            return qa().retriever.search(
                query,
                k,
                chosen,
                lexical_weight=s.lexical_weight,
                dense_weight=s.dense_weight,
                rerank=s.rerank,
            )

        found = await anyio.to_thread.run_sync(run)
        return {
            "passages": [
                {
                    "id": p.chunk_id,
                    "doc_id": p.doc_id,
                    "title": p.title,
                    "date": p.date,
                    "url": p.url,
                    "text": p.text,
                    "score": round(p.score, 4),
                    "uri": document_uri(p.doc_id),
                }
                for p in found
            ]
        }

    @server.tool(annotations=reading, structured_output=True)
    async def ask(question: Question) -> dict[str, Any]:
        """Answer a question of fact from the indexed news articles. Returns `text` (the
        answer with [n] markers), `short_answer` (a few words), `mode` (generated,
        extractive, or abstained when the articles do not tell: then say so, do not
        answer from memory), and `citations` (number, title, date, url, the supporting
        sentence and the passage). Ask one self-contained question per call: name what
        you are asking about rather than saying 'it'."""
        try:
            answer = await anyio.to_thread.run_sync(lambda: qa().ask(question, options=settings))
        except ValueError as err:
            raise ToolError(str(err)) from None
        rest = answer.to_dict()
        rest.pop("passages", None)
        return rest

    @server.tool(annotations=reading, structured_output=True)
    async def list_documents(query: Narrow = "") -> dict[str, Any]:
        """List the indexed articles (doc_id, title, date, url, number of passages, uri),
        newest first; `query` narrows the list. Read an article in full through its uri."""
        docs = await anyio.to_thread.run_sync(qa().retriever.reader.documents)
        needle = query.strip().lower()
        fields = ("title", "date", "url", "doc_id")
        keep = [d for d in docs if any(needle in str(d.get(f) or "").lower() for f in fields)]
        keep.sort(key=lambda d: d.get("date") or "", reverse=True)
        return {
            "documents": [
                {
                    "doc_id": d["doc_id"],
                    "title": d["title"],
                    "date": d["date"],
                    "url": d["url"],
                    "n_chunks": d["n_chunks"],
                    "uri": document_uri(d["doc_id"]),
                }
                for d in keep
            ]
        }

    @server.resource(URI, name="document", mime_type="text/plain")
    async def document(doc_id: str) -> str:
        """One indexed article: its title, date and url, then its text."""
        reader = qa().retriever.reader
        try:
            return await anyio.to_thread.run_sync(document_resource, reader, unquote(doc_id))
        except LookupError as err:
            raise ResourceError(str(err)) from None

    return server


def http_routes(server: "MCPServer", gate: "Gate") -> tuple[list, Any]:
    """The streamable-HTTP route ``/mcp`` (behind ``gate``) and the lifespan that runs its
    sessions; the server's own Host check is off, ancre's ``HostCheck`` does it."""
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    app = server.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    inner = next(r for r in app.routes if getattr(r, "path", "") == "/mcp").endpoint

    class Guarded:
        """The SDK's ASGI endpoint, for callers that ``gate`` lets in."""

        async def __call__(self, scope, receive, send) -> None:
            headers = dict(scope.get("headers") or [])
            if not gate.allows(headers.get(b"authorization", b"").decode("latin-1")):
                refused = JSONResponse(
                    {"error": "unauthorized: send the API key as a bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refused(scope, receive, send)
                return
            await inner(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return [Route("/mcp", Guarded(), methods=["GET", "POST", "DELETE"])], lifespan
