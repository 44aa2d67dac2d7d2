"""Shared fixtures. The real-model fixtures build the bundled sample corpus once per session."""

from __future__ import annotations

import pytest

from index.config import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings for a fresh index in tmp_path (model caches stay in the user's cache)."""
    return Settings.from_env(index_dir=str(tmp_path / "index"))


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory) -> str:
    """The sample articles indexed with the real default embedding model."""
    from index import build
    from samples import ARTICLES

    index_dir = tmp_path_factory.mktemp("sample") / "index"
    report = build([ARTICLES], index_dir=index_dir, settings=Settings.from_env())
    assert report.added >= 14 and not report.skipped, report
    return str(index_dir)
