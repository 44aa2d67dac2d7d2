"""``python tests/mcp_fake.py INDEX_DIR``: ``ancre mcp``'s server over stdio, answering from
the sample articles indexed with the hashing embedder and the scripted generator of the
web chat's tests (the MCP client tests start it as a desktop client would)."""

import sys
from pathlib import Path

from chatserver import SlowGenerator, reply

from ancre.index import build
from ancre.qa import Answerer, AnswerSettings, Retriever
from ancre.samples import ARTICLES
from ancre.ui.mcp_server import create_mcp
from conftest import HashEmbedder

if __name__ == "__main__":
    index_dir = Path(sys.argv[1])
    embedder = HashEmbedder()
    if not index_dir.exists():
        build([ARTICLES], index_dir=index_dir, embedder=embedder)
    retriever = Retriever.open(index_dir, embedder=embedder)
    generator = SlowGenerator(reply, 0.0, model_id="scripted-1b.gguf")
    settings = AnswerSettings(
        llm="gemma", max_question_chars=300, span_first_above=1.01, state_above=0.0
    )
    server = create_mcp(lambda options: Answerer(retriever, generator, options), settings)
    server.run("stdio")
