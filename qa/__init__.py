"""ancre's read path: retrieve, prompt, generate, verify, cite.

from qa import ask
answer = ask("Quand la ligne C ouvrira-t-elle ?", index_dir="my-index")
print(answer.text, answer.citations)
"""

from .records import Answer, Citation, Passage


def __getattr__(name: str):
    # ask/ask_stream pull in the retrieval stack; keep `import qa` light
    if name in ("ask", "ask_stream", "QA", "get_qa"):
        from . import answer

        return getattr(answer, name)
    if name == "Filters":
        from .retrieve import Filters

        return Filters
    raise AttributeError(name)


__all__ = ["QA", "Answer", "Citation", "Filters", "Passage", "ask", "ask_stream", "get_qa"]
