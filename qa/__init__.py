"""ancre's read path: retrieve, weigh the evidence, extract, generate, verify, cite.

from ancre.qa import ask
answer = ask("Quand la ligne C ouvrira-t-elle ?", index_dir="my-index")
print(answer.text, answer.citations)
"""

from .answer import Answerer
from .api import answerer, ask, open_answerer, open_retriever
from .generation.llm import BUNDLED, Generator, LLMError, installed_generators, load_generator
from .records import Answer, AnswerStream, Citation, Event, Passage, Turn
from .retrieval.search import Filters, Retriever
from .settings import AnswerSettings

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
