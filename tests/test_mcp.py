"""The MCP server, driven by the official ``mcp`` client SDK: over stdio against a server
started as a desktop client starts one (``tests/mcp_fake.py``: the sample articles, the
hashing embedder, a scripted generator), and over streamable HTTP under the web chat."""

from __future__ import annotations

import asyncio
import http.client
import json
import sys
from pathlib import Path

import pytest
from chatserver import TRAMWAY

pytest.importorskip("mcp", reason='the MCP tests need: pip install -e ".[test]"')
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ancre.ui.mcp_server import document_resource, document_uri, filters

FAKE = Path(__file__).with_name("mcp_fake.py")


def stdio(index_dir: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(FAKE), str(index_dir)])


def test_tools_search_ask_and_documents_over_stdio(tmp_path):
    async def session():
        async with Client(stdio(tmp_path / "index")) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            found = await client.call_tool("search", {"query": "tramway ligne C", "k": 2})
            asked = await client.call_tool("ask", {"question": TRAMWAY})
            listed = await client.call_tool("list_documents", {"query": "tramway"})
            resources = (await client.list_resources()).resources
            uri = listed.structured_content["documents"][0]["uri"]
            read = await client.read_resource(uri)
            return tools, found, asked, listed, resources, read

    tools, found, asked, listed, resources, read = asyncio.run(session())
    assert set(tools) == {"search", "ask", "list_documents"}
    assert "abstained" in tools["ask"].description and tools["search"].annotations.read_only_hint
    assert tools["search"].input_schema["properties"]["k"]["maximum"] == 50

    passages = found.structured_content["passages"]
    assert not found.is_error and len(passages) == 2
    first = passages[0]
    assert {"id", "doc_id", "title", "date", "url", "text", "uri"} <= set(first)
    assert "tramway" in first["title"].lower() and first["uri"] == document_uri(first["doc_id"])
    assert json.loads(found.content[0].text) == found.structured_content  # for text-only clients

    answer = asked.structured_content
    assert not asked.is_error and answer["mode"] == "stated" and answer["generated"]
    assert answer["short_answer"] == "Le samedi 13 septembre 2025"
    assert "13 septembre 2025" in answer["citations"][0]["sentence"]
    assert "passages" not in answer and "text" in answer

    docs = listed.structured_content["documents"]
    assert len(docs) == 1 and "tramway" in docs[0]["title"].lower()
    assert len(resources) >= 14 and docs[0]["uri"] in {str(r.uri) for r in resources}
    text = read.contents[0].text
    assert text.startswith(docs[0]["title"]) and docs[0]["date"] in text
    sentence = answer["citations"][0]["sentence"]
    assert text.count(sentence) == 1  # the overlapping chunks are stitched, not repeated


def test_bad_arguments_are_tool_errors_not_crashes(tmp_path):
    async def session():
        async with Client(stdio(tmp_path / "index")) as client:
            results = [
                await client.call_tool("search", {"query": "tramway", "k": 0}),
                await client.call_tool("search", {"query": "tramway", "since": "hier"}),
                await client.call_tool("search", {}),
                await client.call_tool("ask", {"question": "mot " * 100}),
            ]
            results.append(await client.call_tool("list_documents", {}))  # still serving
            return results

    *errors, after = asyncio.run(session())
    assert all(r.is_error for r in errors)
    assert "greater than or equal to 1" in errors[0].content[0].text
    assert "since" in errors[1].content[0].text and "YYYY-MM-DD" in errors[1].content[0].text
    assert "query" in errors[2].content[0].text
    assert "limit is 300" in errors[3].content[0].text
    assert not after.is_error and len(after.structured_content["documents"]) >= 14


def test_filters_check_dates():
    assert filters("", "", "") is None
    chosen = filters("2025", "2025-06-30", " echo ")
    assert (chosen.date_from, chosen.date_to, chosen.source) == ("2025", "2025-06-30", "echo")
    for bad in ("18/06/2025", "2025-6-1", "demain"):
        with pytest.raises(Exception, match="YYYY-MM-DD"):
            filters(bad, "", "")


def test_a_document_resource_is_its_stored_text_under_its_title_date_and_url():
    from ancre.index import Document

    class Reader:
        def document(self, doc_id):
            if doc_id == "a":
                return Document("a", "Le texte entier.", "Un titre", "https://x.fr/a", "2025-09-13")
            return None

    text = document_resource(Reader(), "a")
    assert text == "Un titre\n2025-09-13 · https://x.fr/a\n\nLe texte entier."
    with pytest.raises(LookupError, match="no document 'b'"):
        document_resource(Reader(), "b")


def test_mcp_over_streamable_http_under_the_chat(tmp_path):
    from chatserver import start as start_chat

    chat = start_chat(tmp_path / "open", delay=0.0)
    locked = start_chat(tmp_path / "locked", delay=0.0, auth=[("alice", "s3cret")])
    try:

        async def session():
            async with Client(chat.url.rstrip("/") + "/mcp") as client:
                tools = await client.list_tools()
                found = await client.call_tool("search", {"query": "boulangerie baguette"})
                return tools, found

        tools, found = asyncio.run(session())
        assert {t.name for t in tools.tools} == {"search", "ask", "list_documents"}
        assert "baguette" in found.structured_content["passages"][0]["text"].lower()
        port = int(locked.url.rstrip("/").rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("POST", "/mcp", "{}", {"Content-Type": "application/json"})
        assert conn.getresponse().status == 401
    finally:
        chat.close()
        locked.close()


@pytest.mark.slow
def test_ancre_mcp_answers_with_the_real_models(tmp_path):
    """``ancre mcp`` as a desktop client starts it: the sample articles indexed on first
    run, the default embedding model and generator."""
    import os

    env = {"ANCRE_INDEX_DIR": str(tmp_path / "index"), "HOME": os.environ.get("HOME", "")}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "ancre.ui.cli", "mcp"], env=env
    )

    async def session():
        async with Client(params, read_timeout_seconds=300) as client:
            found = await client.call_tool("search", {"query": "ouverture de la ligne C"})
            asked = await client.call_tool("ask", {"question": TRAMWAY})
            return found, asked

    found, asked = asyncio.run(session())
    assert "tramway" in found.structured_content["passages"][0]["title"].lower()
    assert "13 septembre 2025" in asked.structured_content["text"]
    assert asked.structured_content["citations"]
