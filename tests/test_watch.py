"""``ancre index watch``: the build run again on a schedule (ui/watch.py)."""

import time

import pytest

from ancre.index import IndexSettings, build
from ancre.ui.watch import parse_every, watch
from conftest import HashEmbedder


def test_every_reads_durations():
    assert [parse_every(t) for t in ("45", "45s", "30m", "2h", "1d", "0.5s")] == [
        45,
        45,
        1800,
        7200,
        86400,
        0.5,
    ]
    for bad in ("", "0m", "soon", "30 min", "-5s"):
        with pytest.raises(ValueError, match="--every"):
            parse_every(bad)


def test_watch_builds_twice_on_a_short_interval_and_sees_the_new_file(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Premier\n\nLe tramway de Lyon a ouvert en 2001.", "utf-8")
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"))
    reports, lines = [], []

    def once():
        report = build([src], settings=s, embedder=HashEmbedder())
        reports.append(report)
        (src / "b.txt").write_text("Second\n\nLa ligne B dessert la gare.", "utf-8")
        return f"{report.added} added, {report.unchanged} unchanged"

    t0 = time.monotonic()
    assert watch(once, 0.3, runs=2, show=lines.append) == 2
    assert time.monotonic() - t0 >= 0.3
    assert [(r.added, r.unchanged) for r in reports] == [(1, 0), (1, 1)]
    assert [line.split(" ", 2)[2] for line in lines] == [
        "1 added, 0 unchanged",
        "1 added, 1 unchanged",
    ]


def test_a_failed_run_is_one_line_and_the_next_still_comes():
    calls, lines, pauses = [], [], []

    def once():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        return "ok"

    watch(once, 60, runs=2, show=lines.append, sleep=pauses.append)
    assert lines[0].endswith("failed: disk full") and lines[1].endswith(" ok")
    assert len(pauses) == 1 and 59 < pauses[0] <= 60
