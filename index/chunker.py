"""Split documents into chunks whose length is counted in the embedding model's word pieces,
so that the encoder never silently cuts a chunk. Paragraphs first, then lines, sentences,
words (langchain-text-splitters); a small overlap; character offsets into the document.

A chunk is embedded as "title\\nchunk": the budget of each document is the encoder's limit
minus its special tokens and its title, and at most ``chunk_tokens``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ", ""]
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
MIN_BUDGET = 32


def embed_text(title: str, chunk: str) -> str:
    """The text that is embedded and analysed for a chunk: its document's title, then the chunk."""
    return f"{title}\n{chunk}" if title else chunk


@dataclass
class ChunkSpan:
    ord: int
    start: int
    end: int
    text: str
    tokens: int = 0
    """Word pieces of the text that is embedded (title, newline and chunk), as counted while
    splitting: the writer sorts its batches by it without tokenising again."""


class Chunker:
    def __init__(
        self,
        count_tokens: Callable[[str], int],
        chunk_tokens: int,
        overlap: int,
        encoder_limit: int = 256,
    ):
        if not 0 <= overlap < chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({overlap}) must be smaller than chunk_tokens ({chunk_tokens})"
            )
        self._count = count_tokens
        self._counted: dict[str, int] = {}
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self.encoder_limit = encoder_limit
        self._splitters: dict[int, object] = {}

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text``, remembered while one document is split: the splitter
        measures the same pieces again as it merges them."""
        n = self._counted.get(text)
        if n is None:
            n = self._counted[text] = self._count(text)
        return n

    def budget(self, title: str) -> int:
        """Word pieces left for the chunk once the title and special tokens are counted."""
        room = (
            self.encoder_limit - SPECIAL_TOKENS - (self.count_tokens(title + "\n") if title else 0)
        )
        return max(MIN_BUDGET, min(self.chunk_tokens, room))

    def _splitter(self, size: int):
        if size not in self._splitters:
            from langchain_text_splitters import RecursiveCharacterTextSplitter

            self._splitters[size] = RecursiveCharacterTextSplitter(
                chunk_size=size,
                chunk_overlap=min(self.overlap, size // 4),
                length_function=self.count_tokens,
                separators=SEPARATORS,
                keep_separator="end",
                strip_whitespace=True,
            )
        return self._splitters[size]

    def split(self, text: str, title: str = "") -> list[ChunkSpan]:
        self._counted.clear()
        title_tokens = self.count_tokens(title + "\n") if title else 0
        spans: list[ChunkSpan] = []
        for piece in self._splitter(self.budget(title)).split_text(text):
            # the piece starts after the previous chunk's start (overlap means it can
            # begin before the previous chunk's end)
            start = text.find(piece, spans[-1].start + 1 if spans else 0)
            if start < 0:  # cannot happen: splitters only cut and strip
                start = text.find(piece)
            tokens = title_tokens + self.count_tokens(piece)
            spans.append(ChunkSpan(len(spans), start, start + len(piece), piece, tokens))
        self._counted.clear()
        return spans
