"""The LangChain RAG tutorial's indexing recipe, as the baseline of ``ancre bench``'s
side-by-side ingestion figure (``ingest_vs.py``). Never imported by the answer path.

The tutorial splits documents with ``RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200, add_start_index=True)``, embeds the chunks with ``HuggingFaceEmbeddings``
(sentence-transformers all-MiniLM-L6-v2 on torch) and stores them in a FAISS flat index
(``FAISS.from_documents``, then ``save_local``). The LangChain wrappers of the last two
(langchain-huggingface, langchain-community) are not installed here (they would replace the
installed huggingface_hub), so this does what they do with the libraries they wrap:
``SentenceTransformer(model, device="cpu").encode(texts)`` on the chunk texts with newlines
replaced by spaces (what ``HuggingFaceEmbeddings`` sends), ``faiss.IndexFlatL2`` + ``add``,
a dict docstore, and the index plus the pickled docstore written to a folder.

Run as a child process so that model loading and imports are timed as a user meets them:
``python -m ancre.qa.measure.recipe CORPUS OUT_DIR`` prints one JSON line (documents,
chunks, seconds of each step).

The tutorial's question side, the baseline of a fresh ``ancre ask``: ``python -m
ancre.qa.measure.recipe ask OUT_DIR LLM.gguf MAX_TOKENS QUESTION`` loads that folder (what
``FAISS.load_local`` reads), embeds the question with the same sentence-transformers model,
takes the 4 nearest chunks (``similarity_search``'s default), fills the tutorial's
``rlm/rag-prompt`` and has the same GGUF model as ancre answer through its chat template
(llama-cpp-python, as langchain's ``ChatLlamaCpp`` does, with ancre's context size and
answer length); one JSON line (seconds of each step, the answer).
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

PACKAGES = {
    "langchain_text_splitters": "langchain-text-splitters",
    "langchain_core": "langchain-core",
    "sentence_transformers": "sentence-transformers",
    "faiss": "faiss-cpu",
}
"""Module -> pip package of everything the recipe needs."""
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200
BATCH = 32
"""sentence-transformers' default batch, which HuggingFaceEmbeddings keeps."""


def missing_packages() -> list[str]:
    """The pip names of the recipe's packages that are not installed."""
    return [pip for module, pip in PACKAGES.items() if importlib.util.find_spec(module) is None]


def run(corpus: str | Path, out_dir: str | Path, model_path: str) -> dict[str, float]:
    """Index the documents of ``corpus`` the tutorial's way into ``out_dir``; the steps'
    seconds, documents and chunks. Documents are read by ancre's loaders, so that both
    sides of the comparison index the same texts."""
    t0 = time.perf_counter()
    import faiss
    import numpy as np
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from sentence_transformers import SentenceTransformer

    from ancre.index.loaders import Document as Article
    from ancre.index.loaders import load_sources

    t_import = time.perf_counter()
    docs = [
        Document(page_content=a.text, metadata={"id": a.doc_id, "title": a.title})
        for a in load_sources([corpus])
        if isinstance(a, Article)
    ]
    t_load = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    chunks = splitter.split_documents(docs)
    t_split = time.perf_counter()
    model = SentenceTransformer(model_path, device="cpu")
    t_model = time.perf_counter()
    texts = [c.page_content.replace("\n", " ") for c in chunks]
    vectors = model.encode(texts, batch_size=BATCH, show_progress_bar=False).tolist()
    t_embed = time.perf_counter()
    index = faiss.IndexFlatL2(len(vectors[0]))
    index.add(np.array(vectors, dtype="float32"))
    ids = [str(i) for i in range(len(chunks))]
    docstore = dict(zip(ids, chunks, strict=True))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(out / "index.faiss"))
    with open(out / "index.pkl", "wb") as f:
        pickle.dump((docstore, dict(enumerate(ids))), f)
    t_end = time.perf_counter()
    return {
        "documents": len(docs),
        "chunks": len(chunks),
        "import_s": t_import - t0,
        "read_s": t_load - t_import,
        "split_s": t_split - t_load,
        "model_s": t_model - t_split,
        "embed_s": t_embed - t_model,
        "store_s": t_end - t_embed,
    }


RAG_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't "
    "know. Use three sentences maximum and keep the answer concise.\n"
    "Question: {question} \nContext: {context} \nAnswer:"
)
"""The LangChain hub's ``rlm/rag-prompt``, which the tutorial uses."""
TOP_K = 4
N_CTX = 2048


def answer(
    index_dir: str | Path, question: str, model_path: str, llm_path: str, max_tokens: int
) -> dict[str, Any]:
    """Answer ``question`` the tutorial's way from the folder ``run`` wrote; the steps'
    seconds, the answer and the ids of the documents of the chunks it was given."""
    t0 = time.perf_counter()
    import faiss
    import numpy as np
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer

    t_import = time.perf_counter()
    folder = Path(index_dir)
    index = faiss.read_index(str(folder / "index.faiss"))
    with open(folder / "index.pkl", "rb") as f:
        docstore, positions = pickle.load(f)
    model = SentenceTransformer(model_path, device="cpu")
    t_load = time.perf_counter()
    vector = model.encode([question.replace("\n", " ")], show_progress_bar=False)
    _, found = index.search(np.asarray(vector, dtype="float32"), TOP_K)
    retrieved = [docstore[positions[int(i)]] for i in found[0] if i >= 0]
    context = "\n\n".join(doc.page_content for doc in retrieved)
    t_search = time.perf_counter()
    llm = Llama(model_path=llm_path, n_ctx=N_CTX, verbose=False)
    t_llm = time.perf_counter()
    prompt = RAG_PROMPT.format(question=question, context=context)
    reply = llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0
    )
    t_end = time.perf_counter()
    return {
        "import_s": t_import - t0,
        "load_s": t_load - t_import,
        "search_s": t_search - t_load,
        "llm_load_s": t_llm - t_search,
        "generate_s": t_end - t_llm,
        "answer": reply["choices"][0]["message"]["content"] or "",
        "sources": [doc.metadata["id"] for doc in retrieved],
    }


def main(argv: list[str]) -> int:
    from ancre.index.embed import bundled_model_path

    if argv[:1] == ["ask"]:
        index_dir, llm_path, max_tokens, question = argv[1:]
        found = answer(index_dir, question, str(bundled_model_path()), llm_path, int(max_tokens))
        print(json.dumps(found, ensure_ascii=False))
        return 0
    corpus, out_dir = argv
    print(json.dumps(run(corpus, out_dir, str(bundled_model_path()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
