"""The chat's HTML: answers, citation chips, source cards and the conversation thread.

Pure functions, no gradio. Every piece of document text, model output, question or title is
passed through ``html.escape`` here, and links are kept only when they are http(s): the page
shows hostile documents as inert text. Nothing is rendered as Markdown, so no Markdown
syntax in a document can turn into a link, an image or markup.

An answer is shown answer first: a stated short answer in bold with its citation chips
(hover or focus shows the supporting sentence), the quoted evidence folded below it, a row
of source cards, and how sure ancre is. Without a stated answer, the closest passage is the
answer, quoted, its likely answer marked. Each cited passage is also in the page, hidden, for the
source sheet (a side panel on a desktop, a bottom sheet on a phone) that a chip or a card
opens.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ancre.index.nearcopies import Alternate
from ancre.qa import Answer, Citation, Passage

from .conversations import Turn
from .i18n import count, date, number, t

MARKER = re.compile(r"\[(\d{1,3})\]")
STAGES = ("retrieving", "drafting", "verifying")
NEW_TAB = 'target="_blank" rel="noopener noreferrer nofollow"'
CLOSEST = 3


def esc(text: object) -> str:
    """Text as HTML text or attribute value (quotes escaped too)."""
    return html.escape(str(text or ""), quote=True)


def esc_lines(text: str) -> str:
    """Escaped text whose line breaks stay visible (and never make a blank source line)."""
    return "<br>".join(esc(line) for line in (text or "").split("\n"))


def safe_url(url: str) -> str:
    """The URL if it is http(s), else '' (no javascript:, data:, file: links)."""
    url = (url or "").strip()
    return url if re.match(r"(?i)^https?://[^\s<>\"'`]+$", url) else ""


def file_name(doc_id: str) -> str:
    """A document id's last part: the page never shows a server path."""
    return re.split(r"[\\/]", doc_id or "")[-1]


def source_key(turn: int, number_: int) -> str:
    return f"{turn}-{number_}"


def highlight(text: str, start: int, end: int) -> str:
    """Escaped ``text`` with ``text[start:end]`` in <mark> (when the offsets are valid)."""
    if not (0 <= start < end <= len(text)):
        return esc_lines(text)
    return (
        esc_lines(text[:start])
        + "<mark>"
        + esc_lines(text[start:end])
        + "</mark>"
        + (esc_lines(text[end:]))
    )


@dataclass
class Source:
    """What a chip, a card and the sheet show of one cited (or closest) passage."""

    number: int
    title: str
    date: str
    url: str
    doc_id: str
    sentence: str
    body: str
    """The passage as HTML, the supporting sentence marked."""
    also: tuple[Alternate, ...] = ()
    """The same story published elsewhere."""
    chunk_id: int | None = None
    """The cited chunk (« Lire l'article » marks the sentence nearest to it)."""


def _from_citation(c: Citation) -> Source:
    body = highlight(c.text, c.sentence_start, c.sentence_end)
    also = tuple(c.also)
    return Source(c.number, c.title, c.date, c.url, c.doc_id, c.sentence, body, also, c.chunk_id)


def _from_passage(p: Passage) -> Source:
    first = re.split(r"(?<=[.!?])\s", p.text.strip(), maxsplit=1)[0]
    body = esc_lines(p.text)
    return Source(p.rank, p.title, p.date, p.url, p.doc_id, first, body, tuple(p.also), p.chunk_id)


def sources_of(answer: Answer) -> list[Source]:
    """The cited passages; for an abstention the closest ones (one per document)."""
    if not answer.abstained:
        return [_from_citation(c) for c in answer.citations]
    seen, out = set(), []
    for p in answer.passages:
        if p.doc_id not in seen:
            seen.add(p.doc_id)
            out.append(_from_passage(p))
        if len(out) == CLOSEST:
            break
    return out


def chip(turn: int, s: Source, lang: str) -> str:
    title = s.title or file_name(s.doc_id)
    return (
        f'<button type="button" class="ancre-chip" data-src="{source_key(turn, s.number)}" '
        f'aria-label="{esc(t(lang, "source_n", n=s.number))} : {esc(title)}">{s.number}'
        f'<span class="ancre-tip" role="tooltip"><span class="ancre-tip-title">{esc(title)}'
        f"</span>{esc(s.sentence)}</span></button>"
    )


def with_chips(text: str, turn: int, sources: dict[int, Source], lang: str) -> str:
    """Escaped ``text`` whose ``[n]`` markers become chips when ``n`` is a known source
    (other markers stay as text)."""
    out, pos = [], 0
    for m in MARKER.finditer(text):
        s = sources.get(int(m.group(1)))
        if s is None:
            continue
        out.append(esc(text[pos : m.start()]).rstrip() + " " + chip(turn, s, lang))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def _domain(url: str) -> str:
    return urlsplit(url).hostname or "" if safe_url(url) else ""


def card(turn: int, s: Source, lang: str) -> str:
    meta = " · ".join(x for x in (date(s.date, lang), _domain(s.url) or file_name(s.doc_id)) if x)
    return (
        f'<button type="button" class="ancre-card" data-src="{source_key(turn, s.number)}">'
        f'<span class="ancre-card-num">{s.number}</span><span class="ancre-card-text">'
        f'<span class="ancre-card-title">{esc(s.title or file_name(s.doc_id))}</span>'
        f'<span class="ancre-card-meta">{esc(meta)}</span>{_also(s, lang)}</span></button>'
    )


def _also(s: Source, lang: str) -> str:
    """« aussi publié par ... »: the outlets of the story's near-copies (``nearcopies``)."""
    if not s.also:
        return ""
    names = ", ".join(dict.fromkeys(a.name for a in s.also))
    return f'<span class="ancre-card-also">{esc(t(lang, "also_published", names=names))}</span>'


def source_panel(turn: int, s: Source, lang: str) -> str:
    """The full passage, shown in the source sheet."""
    meta = [esc(date(s.date, lang))] if s.date else []
    href = safe_url(s.url)
    if href:
        meta.append(
            f'<a href="{esc(href)}" {NEW_TAB}>'
            f"{esc(t(lang, 'open_link'))} ({esc(_domain(href))})</a>"
        )
    elif s.url:
        meta.append(esc(s.url))
    meta.append(esc(file_name(s.doc_id)))
    if s.also:
        links = [
            f'<a href="{esc(safe_url(a.url))}" {NEW_TAB}>{esc(a.name)}</a>'
            if safe_url(a.url)
            else esc(a.name)
            for a in s.also
        ]
        meta.append(esc(t(lang, "also_published", names="")) + ", ".join(links))
    return (
        f'<section class="ancre-source" id="ancre-src-{source_key(turn, s.number)}">'
        f'<h3 class="ancre-source-head"><span class="ancre-source-num">{s.number}</span>'
        f"{esc(s.title or file_name(s.doc_id))}</h3>"
        f'<p class="ancre-source-meta">{" · ".join(meta)}</p>{read_button(s, lang)}'
        f'<blockquote class="ancre-source-text">{s.body}</blockquote></section>'
    )


def doc_key(doc_id: str) -> str:
    """A document's id as the page may carry it: a hash (an id can be a server path)."""
    return hashlib.sha256(doc_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def read_button(s: Source, lang: str) -> str:
    """« Lire l'article »: the sheet asks the server for the whole article (``article.py``)
    by the document's key and the cited chunk."""
    chunk = "" if s.chunk_id is None else str(s.chunk_id)
    return (
        f'<button type="button" class="ancre-read" data-doc="{doc_key(s.doc_id)}" '
        f'data-chunk="{esc(chunk)}" data-sentence="{esc(s.sentence)}" '
        f'data-loading="{esc(t(lang, "article_loading"))}">'
        f"{esc(t(lang, 'read_article'))}</button>"
    )


MODES = ("stated", "evidence", "abstained", "incomplete")
"""The modes the chat names (``Answer.mode``); any other is shown as it is."""
EARLIER = {"generated": "stated", "extractive": "stated"}
"""Modes of answers kept from before ``Answer.confidence``: their short answer was stated."""


def mode_line(answer: Answer, lang: str) -> str:
    """How sure ancre is: a stated answer with its confidence, the closest passage, or no
    answer; the tooltip says how the words were found."""
    mode = EARLIER.get(answer.mode, answer.mode) or "evidence"
    if answer.abstained and mode != "incomplete":
        mode = "abstained"
    sure = percent(answer.confidence)
    if mode == "stated":
        label = t(lang, "mode_stated", p=sure)
    else:
        label = t(lang, f"mode_{mode}") if mode in MODES else mode
    total = (answer.timings or {}).get("total")
    if total is not None:
        label += " · " + t(lang, "seconds", s=number(total, lang))
    model = (answer.models or {}).get("llm", "")
    title = ""
    if mode == "stated":
        title = (
            t(lang, "mode_model", model=model)
            if answer.generated and model
            else t(lang, "mode_quoted")
        )
    elif mode == "evidence":
        title = t(lang, "mode_unsure", p=sure)
    return (
        f'<span class="ancre-mode ancre-mode-{esc(mode)}" title="{esc(title)}">{esc(label)}</span>'
    )


def percent(value: float) -> str:
    """A confidence as a whole percentage ('83')."""
    return str(round(100 * (value or 0.0)))


def marked(quote: str, likely: str, turn: int, sources: dict[int, Source], lang: str) -> str:
    """``quote`` with its chips, and the likely answer in <mark> where the quote writes it:
    what to look at in the closest passage, not a claim."""
    at = quote.find(likely) if likely else -1
    if at < 0:
        return with_chips(quote, turn, sources, lang)
    end = at + len(likely)
    return (
        with_chips(quote[:at], turn, sources, lang)
        + f'<mark class="ancre-likely">{esc(quote[at:end])}</mark>'
        + with_chips(quote[end:], turn, sources, lang)
    )


def plain_text(answer: Answer, lang: str) -> str:
    """What Copy puts on the clipboard: the answer, then its sources."""
    blocks = [b.strip() for b in answer.text.split("\n\n") if b.strip()]
    lines = [answer.short_answer] if answer.short_answer else []
    if answer.abstained:
        lines = blocks[:1]
    else:
        for block in blocks:
            if block.startswith(">"):
                lines.append(block.lstrip("> ").strip())
            elif not answer.short_answer:
                lines.append(block)
    for s in sources_of(answer):
        where = " — ".join(x for x in (s.date, s.url) if x)
        lines.append(
            f"[{s.number}] {s.title or file_name(s.doc_id)}" + (f" ({where})" if where else "")
        )
    return "\n".join(lines)


def render_answer(answer: Answer, turn: int, lang: str, rating: str = "") -> str:
    """One answer: short answer (bold) or text with chips, the evidence, the source cards,
    the mode line and the Copy / Regenerate buttons, and ``rating`` (the 👍 / 👎 of the
    turn's current version, as HTML)."""
    sources = sources_of(answer)
    by_number = {s.number: s for s in sources}
    blocks = [b.strip() for b in answer.text.split("\n\n") if b.strip()]
    quotes = [b.lstrip(">").strip() for b in blocks if b.startswith(">")]
    statements = [b for b in blocks if not b.startswith(">")]
    parts = []
    if answer.abstained:
        head = statements[0] if statements else t(lang, "mode_abstained")
        parts.append(f'<p class="ancre-text ancre-abstention">⚠️ {esc(head)}</p>')
    elif answer.short_answer:
        markers = MARKER.findall(statements[0]) if statements else []
        numbers = [int(n) for n in markers if int(n) in by_number] or list(by_number)[:1]
        chips = "".join(" " + chip(turn, by_number[n], lang) for n in dict.fromkeys(numbers))
        parts.append(
            f'<p class="ancre-short"><strong>{esc(answer.short_answer)}</strong>{chips}</p>'
        )
        if quotes:
            parts.append(
                f'<details class="ancre-evidence" data-fold="{turn}"><summary>'
                f"{esc(t(lang, 'evidence'))}</summary>"
                + "".join(
                    f'<blockquote class="ancre-quote">{with_chips(q, turn, by_number, lang)}'
                    "</blockquote>"
                    for q in quotes
                )
                + "</details>"
            )
    else:
        for b in statements:
            parts.append(f'<p class="ancre-text">{with_chips(b, turn, by_number, lang)}</p>')
        for q in quotes:
            parts.append(
                '<blockquote class="ancre-quote">'
                + marked(q, answer.likely_answer, turn, by_number, lang)
                + "</blockquote>"
            )
    if sources:
        label = t(lang, "sources_closest") if answer.abstained else t(lang, "sources_label")
        parts.append(
            f'<div class="ancre-cards" aria-label="{esc(label)}">'
            f'<span class="ancre-cards-label">{esc(label)}</span>'
            + "".join(card(turn, s, lang) for s in sources)
            + "</div>"
        )
    parts.append(
        f'<div class="ancre-foot">{mode_line(answer, lang)}'
        '<button type="button" class="ancre-act ancre-copy" '
        f'data-copy="{esc(plain_text(answer, lang))}" '
        f'data-done="{esc(t(lang, "copied"))}">{esc(t(lang, "copy"))}</button>'
        f'<button type="button" class="ancre-act ancre-regen" data-turn="{turn}">'
        f"{esc(t(lang, 'regenerate'))}</button>{rating}</div>"
    )
    parts.append(
        '<div class="ancre-passages" hidden>'
        + "".join(source_panel(turn, s, lang) for s in sources)
        + "</div>"
    )
    kind = "ancre-abstained" if answer.abstained else ""
    return f'<div class="ancre-bot {kind}">{"".join(parts)}</div>'


THUMB = (
    '<svg class="ancre-thumb" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" '
    'focusable="false"><path fill="none" stroke="currentColor" stroke-width="2" '
    'stroke-linejoin="round" d="M3 10h4v11H3zM7 20h10.5a2 2 0 0 0 2-1.6l1.3-6.5A2 2 0 0 0 '
    '18.8 9.5H14l.9-4.2A2 2 0 0 0 13 3z"/></svg>'
)
"""👍 drawn (no emoji font needed); 👎 is the same turned over by the style sheet."""


@dataclass
class TurnView:
    """One turn as shown: ``state`` is answered, stopped, failed, working or pending."""

    seq: int
    question: str
    answer: Answer | None = None
    state: str = "answered"
    note: str = ""
    """failed: the key of the error text; working: the stage."""
    rating: str = ""
    comment: str = ""
    suggestions: list[str] = field(default_factory=list)
    earlier: list[TurnView] = field(default_factory=list)
    """The versions this turn's answer replaced, oldest first."""


def turn_view(turn: Turn) -> TurnView:
    """A stored turn as shown, with its earlier versions."""
    return TurnView(
        turn.seq,
        turn.question,
        turn.answer,
        turn.status,
        turn.note,
        turn.rating,
        turn.comment,
        list(turn.suggestions),
        [TurnView(x.seq, x.question, x.answer, x.status, x.note) for x in turn.earlier],
    )


def feedback(view: TurnView, lang: str) -> str:
    """👍 / 👎 (pressed as stored), and the correction box a 👎 opens."""
    buttons = "".join(
        f'<button type="button" class="ancre-act ancre-rate" data-turn="{view.seq}" '
        f'data-rating="{rating}" aria-pressed="{"true" if view.rating == rating else "false"}" '
        f'aria-label="{esc(t(lang, "rate_" + rating))}" title="{esc(t(lang, "rate_" + rating))}">'
        f"{icon}</button>"
        for rating, icon in (("up", THUMB), ("down", THUMB))
    )
    said = ""
    if view.rating:
        text = t(lang, "fix_shown", text=view.comment) if view.comment else t(lang, "rate_thanks")
        said = f'<span class="ancre-rated" role="status">{esc(text)}</span>'
    form = (
        f'<form class="ancre-fix" data-turn="{view.seq}" hidden>'
        f"<label>{esc(t(lang, 'fix_label'))}"
        f'<textarea rows="2" maxlength="1000">{esc(view.comment)}</textarea></label>'
        f'<button type="submit" class="ancre-act ancre-fix-send">{esc(t(lang, "fix_send"))}'
        "</button></form>"
    )
    return f'<span class="ancre-feedback">{buttons}{said}</span>{form}'


def _versions(seq: int, n: int, total: int, lang: str) -> str:
    """‹ n/total ›: moves between the answers a turn has had (the page's script)."""
    if total < 2:
        return ""
    return (
        f'<span class="ancre-versions" data-turn="{seq}">'
        f'<button type="button" class="ancre-act ancre-version-prev" data-to="{n - 1}" '
        f'aria-label="{esc(t(lang, "version_previous"))}"{" disabled" if n == 1 else ""}>‹'
        f'</button><span aria-hidden="true">{n}/{total}</span>'
        f'<span class="ancre-sr">{esc(t(lang, "version_of", n=n, total=total))}</span>'
        f'<button type="button" class="ancre-act ancre-version-next" data-to="{n + 1}" '
        f'aria-label="{esc(t(lang, "version_next"))}"{" disabled" if n == total else ""}>›'
        "</button></span>"
    )


def _stage(stage: str, lang: str) -> str:
    steps = (
        "".join(
            f'<li class="{"ancre-done" if STAGES.index(s) < STAGES.index(stage) else ""}'
            f'{"ancre-now" if s == stage else ""}">{esc(t(lang, "step_" + s))}</li>'
            for s in STAGES
        )
        if stage in STAGES
        else ""
    )
    return (
        f'<div class="ancre-bot ancre-working" role="status"><span class="ancre-spinner"></span>'
        f'<span class="ancre-stage">{esc(t(lang, "stage_" + (stage or "retrieving")))}</span>'
        f'<ol class="ancre-steps">{steps}</ol></div>'
    )


def render_turn(view: TurnView, lang: str, last: bool = False) -> str:
    """A turn; with earlier versions, each one in turn behind ‹ n/total › (the current
    one shown); the follow-up questions under the ``last`` turn."""
    versions = [*view.earlier, view]
    if len(versions) == 1:
        return f'<div class="ancre-turn" data-turn="{view.seq}">{_version(view, lang, last)}</div>'
    blocks = []
    for n, v in enumerate(versions, 1):
        nav = _versions(view.seq, n, len(versions), lang)
        hidden = "" if v is view else " hidden"
        blocks.append(
            f'<div class="ancre-version" data-version="{n}"{hidden}>'
            f"{_version(v, lang, last and v is view, nav, v is view)}</div>"
        )
    return (
        f'<div class="ancre-turn" data-turn="{view.seq}" data-versions="{len(versions)}">'
        f"{''.join(blocks)}</div>"
    )


def _version(view: TurnView, lang: str, last: bool, nav: str = "", current: bool = True) -> str:
    pending = view.state == "pending"
    settled = view.state in ("answered", "stopped", "failed")
    edit = (
        f'<button type="button" class="ancre-act ancre-edit" data-turn="{view.seq}" '
        f'aria-label="{esc(t(lang, "edit_label"))}">{esc(t(lang, "edit"))}</button>'
        f'<form class="ancre-edit-form" data-turn="{view.seq}" hidden>'
        f'<textarea rows="2" aria-label="{esc(t(lang, "edit_label"))}">'
        f"{esc(view.question)}</textarea>"
        '<span class="ancre-edit-acts">'
        f'<button type="button" class="ancre-act ancre-edit-cancel">{esc(t(lang, "cancel"))}'
        f'</button><button type="submit" class="ancre-act ancre-edit-send">'
        f"{esc(t(lang, 'edit_send'))}</button></span></form>"
        if settled
        else ""
    )
    user = (
        f'<div class="ancre-user{" ancre-pending" if pending else ""}">'
        f'<div class="ancre-bubble">{esc_lines(view.question)}</div>'
        + (f'<div class="ancre-pending-label">{esc(t(lang, "pending"))}</div>' if pending else "")
        + (f'<div class="ancre-user-acts">{nav}{edit}</div>' if nav or edit else "")
        + "</div>"
    )
    if view.state == "answered" and view.answer is not None:
        bot = render_answer(view.answer, view.seq, lang, feedback(view, lang) if current else "")
        if last and view.suggestions:
            bot += _follow_ups(view.suggestions, lang)
    elif view.state == "working":
        bot = _stage(view.note, lang)
    elif view.state in ("stopped", "failed"):
        text = (
            t(lang, "stopped") if view.state == "stopped" else t(lang, view.note or "error_other")
        )
        bot = (
            f'<div class="ancre-bot ancre-{view.state}"><p class="ancre-text">{esc(text)}</p>'
            f'<div class="ancre-foot"><button type="button" class="ancre-act ancre-regen" '
            f'data-turn="{view.seq}">{esc(t(lang, "retry"))}</button></div></div>'
        )
    else:
        bot = ""
    return user + bot


def _follow_ups(questions: list[str], lang: str) -> str:
    label = t(lang, "follow_ups")
    return (
        f'<div class="ancre-follow-ups" role="group" aria-label="{esc(label)}">'
        f'<span class="ancre-cards-label">{esc(label)}</span>'
        + "".join(
            f'<button type="button" class="ancre-example ancre-follow-up" '
            f'data-question="{esc(q)}">{esc(q)}</button>'
            for q in questions
        )
        + "</div>"
    )


def render_thread(turns: list[TurnView], lang: str, examples: list[str], shown: int = 0) -> str:
    """The conversation, or when it is empty a welcome with clickable example questions.
    ``shown`` stamps what the page showed when it was drawn (``data-shown``): the page drops
    a thread drawn before the newest one it has (a late update of a conversation left)."""
    if not turns:
        buttons = "".join(
            f'<button type="button" class="ancre-example" data-question="{esc(q)}">'
            f"{esc(q)}</button>"
            for q in examples
        )
        return (
            f'<div class="ancre-thread ancre-empty" data-turns="0" data-shown="{shown}">'
            f'<p class="ancre-welcome">{esc(t(lang, "empty_title"))}</p>'
            f'<p class="ancre-welcome-hint">{esc(t(lang, "empty_hint"))}</p>'
            + (
                f'<p class="ancre-examples-label">{esc(t(lang, "examples"))}</p>'
                f'<div class="ancre-examples">{buttons}</div>'
                if examples
                else ""
            )
            + "</div>"
        )
    body = "".join(render_turn(v, lang, last=v is turns[-1]) for v in turns)
    return f'<div class="ancre-thread" data-turns="{len(turns)}" data-shown="{shown}">{body}</div>'


def summary_line(documents: int, chunks: int, updated: str, lang: str) -> str:
    """One line saying what is indexed, for the top of the chat."""
    if not documents:
        return f'<p class="ancre-summary">{esc(t(lang, "no_index"))}</p>'
    when = date(updated, lang) or "?"
    if documents == 1:
        text = t(lang, "indexed_one", date=when)
    else:
        text = t(lang, "indexed", documents=count(documents, lang), date=when)
    return f'<p class="ancre-summary" title="{esc(count(chunks, lang))}">{esc(text)}</p>'
