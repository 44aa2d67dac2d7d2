"""The conversations' side of the page, without gradio: the sidebar's list (dated, grouped
by today, this week and older; the page's script filters it as the reader types) and a
conversation as Markdown with its sources (the « Export » button)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from ancre.qa import Answer

from .conversations import Conversation, Turn
from .i18n import date, t, timestamp
from .render import esc, file_name, sources_of

GROUPS = ("today", "week", "older")
WEEK = timedelta(days=7)


def group_of(when: float, now: float) -> str:
    """'today' (the same local day as ``now``), 'week' (the 6 days before) or 'older'."""
    day = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    then = datetime.fromtimestamp(when)
    if then >= day:
        return "today"
    return "week" if then >= day - (WEEK - timedelta(days=1)) else "older"


def when(conv: Conversation, now: float, lang: str) -> str:
    """The time for today's conversations, else the date."""
    if group_of(conv.updated, now) == "today":
        return datetime.fromtimestamp(conv.updated).strftime("%H:%M")
    return timestamp(conv.updated, lang)


def render_history(
    convs: list[Conversation], current: str | None, lang: str, now: float | None = None
) -> str:
    """The list of ``convs`` (most recent first) under group headings; the current one is
    marked. Each entry carries its questions, folded by the page's script for its search."""
    now = time.time() if now is None else now
    if not convs:
        return f'<p class="ancre-history-empty">{esc(t(lang, "no_conversations"))}</p>'
    out = ['<nav class="ancre-history" aria-label="' + esc(t(lang, "conversations")) + '">']
    for name in GROUPS:
        members = [c for c in convs if group_of(c.updated, now) == name]
        if not members:
            continue
        out.append(
            f'<section class="ancre-history-group"><h3>{esc(t(lang, "history_" + name))}</h3><ul>'
        )
        for c in members:
            mark = ' aria-current="true"' if c.id == current else ""
            stamp = datetime.fromtimestamp(c.updated).isoformat(timespec="minutes")
            out.append(
                f'<li><button type="button" class="ancre-conv" data-id="{esc(c.id)}"{mark} '
                f'data-text="{esc(c.title + chr(10) + c.text)}">'
                f'<span class="ancre-conv-title">{esc(c.title)}</span>'
                f'<time datetime="{stamp}">{esc(when(c, now, lang))}</time></button></li>'
            )
        out.append("</ul></section>")
    out.append(f'<p class="ancre-history-none" hidden>{esc(t(lang, "history_none"))}</p></nav>')
    return "".join(out)


def markdown(conv: Conversation, turns: list[Turn], lang: str) -> str:
    """The conversation as Markdown: its title and date, then each question with its answer
    (the stated answer and the quoted evidence, or the answer's text) and its sources."""
    lines = [f"# {conv.title}", "", f"*{timestamp(conv.created, lang)}*", ""]
    for turn in turns:
        lines += [f"## {t(lang, 'export_asked', n=turn.seq + 1)} {turn.question}", ""]
        if turn.answer is None:
            lines += [t(lang, "stopped" if turn.status == "stopped" else "error_other"), ""]
            continue
        lines += _answer_lines(turn.answer, lang)
    return "\n".join(lines).rstrip() + "\n"


def _answer_lines(answer: Answer, lang: str) -> list[str]:
    blocks = [b.strip() for b in answer.text.split("\n\n") if b.strip()]
    out = []
    if answer.abstained:
        out += [blocks[0] if blocks else t(lang, "export_no_answer"), ""]
    elif answer.short_answer:
        out += [f"**{answer.short_answer}**", ""]
    for block in blocks:
        if block.startswith(">"):
            out += ["> " + block.lstrip("> ").strip(), ""]
        elif not answer.short_answer and not answer.abstained:
            out += [block, ""]
    sources = sources_of(answer)
    if sources:
        out += [t(lang, "export_sources"), ""]
        for s in sources:
            title = s.title or file_name(s.doc_id)
            where = " · ".join(x for x in (date(s.date, lang), s.url) if x)
            out.append(f"{s.number}. {title}" + (f" ({where})" if where else ""))
            if s.sentence:
                out.append(f"   > {s.sentence}")
        out.append("")
    return out
