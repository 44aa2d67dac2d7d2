"""Fictional French news articles written for ancre: the demo corpus and the tests' corpus."""

from pathlib import Path

ARTICLES = Path(__file__).parent / "articles"
