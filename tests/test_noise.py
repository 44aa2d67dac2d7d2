"""What a user sees besides the answers: ancre's own notices in its own words, and no
progress bars from the libraries it drives (fast: nothing is loaded)."""

import io
import logging
import os
import sys

from rich.console import Console
from rich.progress import track

from ancre.index.quiet import quiet_progress_bars
from ancre.ui.cli import _Said, main


def said(name: str, level: int, message: str) -> str:
    record = logging.LogRecord(name, level, __file__, 1, message, (), None)
    return _Said("%(levelname)s %(name)s: %(message)s").format(record)


def test_ancre_notices_read_as_ancre_lines_and_others_keep_their_logger():
    notice = said("ancre.index.openvino", logging.WARNING, "preparing the embedding model")
    assert notice == "ancre: preparing the embedding model"
    assert said("urllib3", logging.WARNING, "retrying") == "WARNING urllib3: retrying"
    assert said("ancre.qa", logging.INFO, "detail") == "INFO ancre.qa: detail"


def test_progress_bars_of_rich_are_kept_off_the_terminal(monkeypatch):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True)
    monkeypatch.setattr("rich.get_console", lambda: console)
    monkeypatch.setattr("rich.progress.get_console", lambda: console, raising=False)
    with quiet_progress_bars():
        for _ in track(range(3), description="Statistics collection", console=console):
            pass
    assert out.getvalue() == "" and not console.quiet
    for _ in track(range(3), description="Statistics collection", console=console):
        pass
    assert "Statistics collection" in out.getvalue()


def test_a_reader_that_stops_reading_is_no_error(monkeypatch, capsys):
    """`ancre index list | head -1`: the rest of the output is dropped, quietly."""
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w", buffering=1) as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(["config"]) == 0
        monkeypatch.undo()
    assert "error" not in capsys.readouterr().err
