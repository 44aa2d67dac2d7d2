"""The command line's help, read as a new user reads it (fast: nothing runs)."""

import argparse
import itertools

import pytest

from ancre.ui.flags import parser


def subparsers(ap: argparse.ArgumentParser, prefix: str = "ancre"):
    """Every (name, parser) of ``ap``'s sub-commands, nested ones included."""
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from subparsers(sub, f"{prefix} {name}")


def test_every_argument_has_help():
    undocumented = [
        f"{name} {action.option_strings or action.dest}"
        for name, sub in subparsers(parser())
        for action in sub._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert undocumented == []


@pytest.mark.parametrize("width", [60, 80, 100])
def test_help_wraps_between_words(monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    for _, sub in subparsers(parser()):
        lines = sub.format_help().splitlines()
        for line, following in itertools.pairwise(lines):
            assert not line.endswith("-") or not following.strip()[:1].isalpha(), line


def test_remove_says_a_path_works():
    ap = parser()
    remove = dict(subparsers(ap))["ancre index remove"]
    assert "file or folder" in remove.format_help()
    assert ap.parse_args(["index", "remove", "articles/a.md"]).doc_ids == ["articles/a.md"]
