"""The page's scripting API: ``/ask`` and ``/documents``, named and documented, so that
``gradio_client`` lists them (``view_api()``) and calls them with the page's login. Every
other event of the page is private."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .chat import WebChat
    from .library import Library


def register(chat: "WebChat", library: "Library") -> None:
    """Add the endpoints to the Blocks being built."""
    import gradio as gr

    def ask(
        question: str, top_k: int = 0, llm: str = "", history: list[dict] | None = None
    ) -> dict:
        """Answer ``question`` from the indexed articles. Returns the Answer as JSON: text
        (with [n] markers), short_answer, citations (the supporting sentence of each cited
        passage), passages, mode (stated, evidence, abstained, incomplete), confidence,
        timings. ``top_k`` (0: the server's) passages are retrieved; ``llm`` picks a
        generator ('' for the server's, 'none' for extractive answers); ``history`` holds earlier
        {"role", "content"} turns for a follow-up question. Nothing is stored. A refused
        question or generator, or a missing index, reaches the caller with its reason."""
        from ancre.index import StoreError
        from ancre.qa import LLMError

        from .chat import error_key
        from .i18n import t

        try:
            return chat.ask(question, chat.options(top_k, llm or None, None), history).to_dict()
        except ValueError as err:
            raise gr.Error(str(err), print_exception=False) from err
        except (StoreError, LLMError) as err:  # their text may name server paths
            raise gr.Error(t("en", error_key(err)), print_exception=False) from err

    def documents(query: str = "") -> list[dict]:
        """The indexed documents (doc_id, title, date, url, n_chunks), newest first;
        ``query`` keeps those whose title, date or source contains it."""
        keep = ("doc_id", "title", "date", "url", "n_chunks")
        return [{k: d.get(k) for k in keep} for d in library.documents(query)]

    gr.api(ask, api_name="ask", concurrency_id="answer", concurrency_limit=16)
    gr.api(documents, api_name="documents")
