"""ancre's read path: retrieve, weigh the evidence, extract, generate, verify, cite.

from ancre.qa import ask
answer = ask("Quand la ligne C ouvrira-t-elle ?", index_dir="my-index")
print(answer.text, answer.citations)
"""

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from .answer import Answerer
    from .api import answerer, ask, open_answerer, open_retriever
    from .generation.llm import BUNDLED, Generator, LLMError, installed_generators, load_generator
    from .records import Answer, AnswerStream, Citation, Event, Passage, Turn
    from .retrieval.search import Filters, Retriever
    from .settings import AnswerSettings

__getattr__, __dir__, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "answer": ["Answerer"],
        "api": ["answerer", "ask", "open_answerer", "open_retriever"],
        "generation.llm": [
            "BUNDLED",
            "Generator",
            "LLMError",
            "installed_generators",
            "load_generator",
        ],
        "records": ["Answer", "AnswerStream", "Citation", "Event", "Passage", "Turn"],
        "retrieval.search": ["Filters", "Retriever"],
        "settings": ["AnswerSettings"],
    },
)
"""The public names, each imported when first used (the records and settings without the
models' libraries)."""

__all__ = [
    "BUNDLED",
    "Answer",
    "AnswerSettings",
    "AnswerStream",
    "Answerer",
    "Citation",
    "Event",
    "Filters",
    "Generator",
    "LLMError",
    "Passage",
    "Retriever",
    "Turn",
    "answerer",
    "ask",
    "installed_generators",
    "load_generator",
    "open_answerer",
    "open_retriever",
]
