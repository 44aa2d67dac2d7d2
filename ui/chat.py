"""What the chat does, without the page: the ``WebChat`` controller (no gradio import).

- **Nothing typed is lost.** A question is accepted (and only then may the page clear its
  box) or refused with a reason. A question sent while an answer is being made waits in the
  page's queue, shown as pending, and is answered next. Stop ends the answer in progress and
  hands the questions still waiting back to the page, to put back in the box.
- **Conversations persist** in a ``ConversationStore`` beside the index, per owner (the user
  under ``--auth``, else one browser): a reload reopens the current one with its sources.
- **Stages, not drafts.** While an answer is made the page shows the stage (retrieving,
  drafting, verifying); the model's unverified draft is never shown. « Loading the model »
  is shown only when opening the answerer actually takes time.
- **Versions and feedback.** Regenerate, or editing a sent question, answers the turn again
  and keeps the earlier versions; a 👍 / 👎 (with an optional correction) is kept on the turn.
- **Follow-ups.** When the page has nothing else to answer, the ``Suggester`` proposes
  questions that ancre answers from the same articles; they are stored with the turn.

Answers come from an ``Answerer`` factory, ``Callable[[AnswerSettings], Answerer]``: the
server passes ``ancre.qa.answerer`` over the cached index, so choosing another generator
reuses the loaded index and embedding model; tests pass an Answerer over fakes.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ancre.qa import Answer, Answerer, AnswerSettings

from .conversations import Conversation, ConversationStore, Rating, Turn
from .history import markdown
from .i18n import count, t
from .render import TurnView, esc, render_thread, turn_view

log = logging.getLogger(__name__)

AnswererFactory = Callable[[AnswerSettings], Answerer]
MAX_PAGES = 2000
"""Open pages remembered (their live state only: conversations are on disk)."""
LOADING_AFTER = 0.3
"""Seconds that opening the answerer may take before the page says a model is loading."""
EPOCHS = itertools.count(1)
"""Pages' epochs, increasing across pages: a page forgotten and made again still draws its
thread with a stamp above those its browser has seen."""


class Examples(Protocol):
    def examples(self) -> list[str]: ...


class Suggester(Protocol):
    """Follow-up questions for an answer, each one checked to be answerable."""

    def suggest(self, question: str, answer: Answer) -> list[str]: ...


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the owner of the conversations, the page's language, and one open
    page (Gradio's session), which has its own queue."""

    owner: str
    lang: str = "fr"
    page: str = ""


@dataclass(frozen=True)
class Job:
    question: str
    options: AnswerSettings
    replace: int | None = None
    """The seq of the turn that this job answers again (Regenerate / Retry)."""


@dataclass
class Page:
    """The live state of one open page."""

    owner: str = ""
    conversation: str | None = None
    pending: deque[Job] = field(default_factory=deque)
    working: Job | None = None
    stage: str = ""
    epoch: int = field(default_factory=lambda: next(EPOCHS))
    """Raised by Stop and by leaving the conversation: an answer begun before it is dropped,
    and the thread drawn before it (stamped with it) is not shown over a later one."""
    draining: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Submitted:
    accepted: bool
    message: str
    """Why the question was refused, or that it waits for the answer in progress."""


def generator_choices(current: str, lang: str) -> list[tuple[str, str]]:
    """(label, value) of the generators offered: the bundled ones installed, 'none', and
    the configured one if it is something else (a .gguf file, a server)."""
    from ancre.qa import BUNDLED, installed_generators

    found = installed_generators()
    if current and current not in found:
        found.insert(0, current)
    labels = {**BUNDLED, "none": t(lang, "model_none")}
    return [(labels.get(v, v.rsplit("/", 1)[-1]), v) for v in found]


def error_key(err: Exception) -> str:
    from ancre.index import StoreError
    from ancre.qa import LLMError

    if isinstance(err, StoreError):
        return "error_no_index"
    if isinstance(err, LLMError):
        return "error_model"
    return "error_other"


class WebChat:
    """The chat's logic. Thread-safe; every method takes the ``Viewer`` it acts for."""

    def __init__(
        self,
        answerers: AnswererFactory,
        settings: AnswerSettings,
        store: ConversationStore,
        *,
        examples: Examples | None = None,
        suggester: Suggester | None = None,
    ):
        self.answerers = answerers
        self.settings = settings
        self.store = store
        self.examples = examples
        self.suggester = suggester
        self._pages: OrderedDict[tuple[str, str], Page] = OrderedDict()
        """Live pages by (owner, Gradio session hash): the hash is chosen by the client, so
        another user who sends it must not reach this page's answer or queue."""
        self._closed: dict[tuple[str, str], Page] = {}
        """Pages closed (or reloaded) while answering: their answers go on, and the owner's
        other pages show them in progress."""
        self._pages_lock = threading.Lock()

    # ---- per-question options and checks
    def generators(self) -> list[str]:
        """The generators a page or API client may pick: those the page offers (the server's
        own and the bundled ones installed), never a spec chosen by the client."""
        return [value for _, value in generator_choices(self.settings.llm, "en")]

    def options(
        self, top_k: float | None = None, llm: str | None = None, temperature: float | None = None
    ) -> AnswerSettings:
        """This question's settings (the shared ones are never changed). A generator other
        than those of ``generators()`` is refused with ``ValueError``: a client must not make
        the server contact another address, download, or open a server file."""
        changes: dict[str, Any] = {}
        if top_k:
            changes["top_k"] = int(top_k)
        if llm:
            allowed = self.generators()
            if llm not in allowed:
                raise ValueError(f"unknown generator {llm!r}: choose one of {', '.join(allowed)}")
            changes["llm"] = llm
        if temperature is not None:
            changes["temperature"] = float(temperature)
        return replace(self.settings, **changes)

    def check(self, question: str, lang: str) -> str:
        """Why ``question`` cannot be asked ('' when it can): the one length limit of the box
        and the server."""
        question = " ".join((question or "").split())
        if not question:
            return t(lang, "hint_empty")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            return t(lang, "hint_too_long", n=count(len(question), lang), max=count(limit, lang))
        return ""

    # ---- pages and conversations
    def page(self, viewer: Viewer) -> Page:
        with self._pages_lock:
            key = (viewer.owner, viewer.page)
            if key in self._closed:
                return self._closed[key]
            page = self._pages.pop(key, None) or Page(owner=viewer.owner)
            self._pages[key] = page
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
            return page

    def close(self, viewer: Viewer) -> None:
        """The page was closed: forget its live state (the conversation stays on disk). An
        answer in progress (the page's own run of it ends with the page) is made again, and
        what waited is answered, in the background: the owner's other pages show them."""
        with self._pages_lock:
            # the page's unload does not say who: the hash finds the page, which only moves
            # its answer on in the background (nothing is shown to the caller)
            keys = [k for k in self._pages if k[1] == viewer.page and viewer.owner in ("", k[0])]
            if not keys:
                return
            key = keys[0]
            page = self._pages.pop(key)
            if page.working is None and not page.pending:
                return
            self._closed[key] = page
            while len(self._closed) > MAX_PAGES:
                self._closed.pop(next(iter(self._closed)))
        with page.lock:
            page.epoch = next(EPOCHS)
            if page.working is not None:
                page.pending.appendleft(page.working)
            page.working, page.stage, page.draining = None, "", False
        owner = replace(viewer, owner=page.owner)  # (the page's unload does not say who)
        threading.Thread(
            target=lambda: deque(self.drain(owner), maxlen=0), name="ancre-closed", daemon=True
        ).start()

    def current(self, viewer: Viewer) -> str | None:
        return self.page(viewer).conversation

    def conversations(self, viewer: Viewer) -> list[Conversation]:
        return self.store.list(viewer.owner)

    def open(self, viewer: Viewer, conv_id: str | None) -> list[str]:
        """Show conversation ``conv_id`` (None or not the owner's: a new, empty one). What
        was waiting is handed back, as by ``stop``."""
        left = self.stop(viewer)
        page = self.page(viewer)
        known = self.store.get(viewer.owner, conv_id)
        with page.lock:  # (raised again: a thread drawn in between shows the one left)
            page.conversation, page.epoch = (known.id if known else None), next(EPOCHS)
        return left

    def rename(self, viewer: Viewer, title: str) -> bool:
        return self.store.rename(viewer.owner, self.current(viewer), title)

    def delete(self, viewer: Viewer) -> list[str]:
        """Delete the current conversation and start a new one."""
        conv_id = self.current(viewer)
        left = self.open(viewer, None)
        self.store.delete(viewer.owner, conv_id)
        return left

    # ---- asking
    def submit(self, viewer: Viewer, question: str, options: AnswerSettings) -> Submitted:
        """Accept ``question`` into the page's queue (``drain`` answers it), or say why not."""
        question = " ".join((question or "").split())
        reason = self.check(question, viewer.lang)
        if reason:
            return Submitted(False, reason)
        page = self.page(viewer)
        with page.lock:
            if self.store.get(viewer.owner, page.conversation) is None:
                page.conversation = self.store.create(viewer.owner, question).id
            busy = page.draining or bool(page.pending)
            page.pending.append(Job(question, options))
        return Submitted(True, t(viewer.lang, "hint_queued") if busy else "")

    def regenerate(
        self, viewer: Viewer, seq: int, options: AnswerSettings, question: str | None = None
    ) -> Submitted:
        """Answer turn ``seq`` of the current conversation again (after its own history),
        asking ``question`` instead when given (an edited question, checked as any other).
        The answer it replaces is kept as an earlier version."""
        page = self.page(viewer)
        turn = next(
            (x for x in self.store.turns(viewer.owner, page.conversation) if x.seq == seq), None
        )
        if turn is None:
            return Submitted(False, "")
        if question is not None:
            question = " ".join(question.split())
            reason = self.check(question, viewer.lang)
            if reason:
                return Submitted(False, reason)
        with page.lock:
            if any(j.replace == seq for j in page.pending) or (
                page.working and page.working.replace == seq
            ):
                return Submitted(False, "")
            page.pending.append(Job(question or turn.question, options, replace=seq))
        return Submitted(True, "")

    def rate(self, viewer: Viewer, seq: int, rating: Rating, comment: str = "") -> bool:
        """Keep the reader's 👍 / 👎 on turn ``seq`` of the current conversation."""
        return self.store.rate(viewer.owner, self.current(viewer), seq, rating, comment)

    def drain(self, viewer: Viewer) -> Iterator[str]:
        """Answer the page's waiting questions one after the other, yielding the thread's
        HTML at each stage. Returns at once when another drain of this page is running (it
        takes the new question)."""
        page = self.page(viewer)
        with page.lock:
            if page.draining:
                return
            page.draining, epoch = True, page.epoch
        answered = False
        while True:
            with page.lock:
                if page.epoch != epoch:
                    return
                if not page.pending:
                    page.draining = False
                    break
                job = page.pending.popleft()
                page.working, page.stage, conv_id = job, "", page.conversation
            answered = True
            yield from self._answer(viewer, page, job, conv_id, epoch)
        if answered:  # nothing waited (a refused question): the page keeps what it shows
            yield self.view(viewer)

    def _answer(
        self, viewer: Viewer, page: Page, job: Job, conv_id: str | None, epoch: int
    ) -> Iterator[str]:
        past = self.store.turns(viewer.owner, conv_id)
        if job.replace is not None:
            past = [x for x in past if x.seq < job.replace]
        history = []
        for x in past:
            if x.answer is not None:
                history += [
                    {"role": "user", "content": x.question},
                    {"role": "assistant", "content": x.answer.text},
                ]
        turn = Turn(job.replace if job.replace is not None else -1, job.question, None)
        stream = None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="ancre-open") as opening:
                answerer = opening.submit(self.answerers, job.options)
                try:
                    qa = answerer.result(timeout=LOADING_AFTER)
                except TimeoutError:  # a model being loaded: say so, then wait for it
                    page.stage = "loading"
                    yield self.view(viewer)
                    qa = answerer.result()
            if page.epoch != epoch:
                return
            stream = qa.stream(job.question, history=history, options=job.options)
            for event in stream:
                if page.epoch != epoch:
                    return  # stopped: closing the stream ends the generation at once
                if event.kind == "stage":
                    page.stage = event.text
                    yield self.view(viewer)
            turn.answer = stream.answer()
        except Exception as err:  # shown in the thread; the page stays usable
            log.exception("answering %r failed", job.question)
            turn.status, turn.note = "failed", error_key(err)
        finally:
            if stream is not None:
                stream.close()  # after Stop: the generator is free for the next answer
        with page.lock:
            if page.epoch != epoch:
                return
            seq = None
            if conv_id is not None:
                seq = self.store.save_turn(
                    viewer.owner, conv_id, turn, replace=job.replace is not None
                )
            page.working, page.stage = None, ""
            more = bool(page.pending)
        yield self.view(viewer)
        if seq is not None and turn.answer is not None and not more:
            yield from self._follow_ups(viewer, page, conv_id, seq, turn.answer, epoch)

    def _follow_ups(
        self, viewer: Viewer, page: Page, conv_id: str, seq: int, answer: Answer, epoch: int
    ) -> Iterator[str]:
        """The suggester's questions for a stated answer, shown under it once checked."""
        if self.suggester is None or answer.abstained:
            return
        try:
            found = self.suggester.suggest(answer.question, answer)
        except Exception:  # suggestions are a courtesy: the answer stands without them
            log.exception("follow-up questions for %r failed", answer.question)
            return
        with page.lock:
            if page.epoch != epoch or not found:
                return
            self.store.suggest(viewer.owner, conv_id, seq, found)
        yield self.view(viewer)

    def busy(self, viewer: Viewer) -> bool:
        """Whether the page has an answer in progress or questions waiting."""
        page = self.page(viewer)
        with page.lock:
            return page.working is not None or bool(page.pending)

    def stop(self, viewer: Viewer) -> list[str]:
        """End the answer in progress (its question stays, marked stopped) and drop the
        waiting questions, returned so that the page puts them back in the box."""
        page = self.page(viewer)
        with page.lock:
            page.epoch = next(EPOCHS)
            job, page.working, page.stage, page.draining = page.working, None, "", False
            left = [j.question for j in page.pending if j.replace is None]
            page.pending.clear()
            if job is not None and job.replace is None and page.conversation:
                turn = Turn(-1, job.question, None, status="stopped")
                self.store.save_turn(viewer.owner, page.conversation, turn)
        return left

    # ---- what the page shows
    @staticmethod
    def _jobs(page: Page) -> list[tuple[Job, str, str]]:
        """(job, state, stage) of what ``page`` answers and what waits. The next question
        of an idle page is shown as being answered: it is not waiting for anything."""
        with page.lock:
            waiting = list(page.pending)
            if page.working is not None:
                working = [(page.working, "working", page.stage)]
            elif waiting:
                working = [(waiting.pop(0), "working", "")]
            else:
                working = []
            return working + [(j, "pending", "") for j in waiting]

    def elsewhere(self, viewer: Viewer) -> list[tuple[Job, str, str]]:
        """What the owner's other pages (one reloaded mid-answer among them) answer in the
        conversation that this page shows."""
        conv_id = self.page(viewer).conversation
        if conv_id is None:
            return []
        with self._pages_lock:
            for key in [k for k, p in self._closed.items() if not self._jobs(p)]:
                del self._closed[key]
            others = [
                p
                for k, p in [*self._pages.items(), *self._closed.items()]
                if k != (viewer.owner, viewer.page)
                and p.owner == viewer.owner
                and p.conversation == conv_id
            ]
        return [job for p in others for job in self._jobs(p)]

    def follow(self, viewer: Viewer, every: float = 0.25) -> Iterator[str]:
        """While another page answers in this conversation (this page was reloaded during
        an answer), the thread at each change, then once more when it is done."""
        shown = ""
        while self.elsewhere(viewer):
            html = self.view(viewer)
            if html != shown:
                shown = html
                yield html
            time.sleep(every)
        if shown:
            yield self.view(viewer)

    def view(self, viewer: Viewer) -> str:
        """The thread's HTML: the stored turns, the answer in progress, the waiting ones
        (this page's, then those of the owner's other pages in this conversation)."""
        page = self.page(viewer)
        with page.lock:
            epoch, conv_id = page.epoch, page.conversation
        turns = self.store.turns(viewer.owner, conv_id)
        views = [turn_view(x) for x in turns]
        jobs = self._jobs(page) + self.elsewhere(viewer)
        following = (views[-1].seq + 1) if views else 0
        for job, state, stage in jobs:
            if job.replace is not None:
                for v in views:
                    if v.seq == job.replace:
                        v.state, v.note = state, stage
                continue
            views.append(TurnView(following, job.question, None, state, stage))
            following += 1
        examples = self.examples.examples() if self.examples and not views else []
        html = render_thread(views, viewer.lang, examples, shown=epoch)
        conv = self.store.get(viewer.owner, conv_id)
        if conv is None or not turns:
            return html
        kept = markdown(conv, turns, viewer.lang)
        name = re.sub(r"[^\w-]+", "-", conv.title).strip("-")[:60] or "conversation"
        return (
            html + f'<pre class="ancre-export" data-name="{esc(name)}.md" hidden>{esc(kept)}</pre>'
        )

    # ---- the scripting API
    def ask(self, question: str, options: AnswerSettings, history: list | None = None) -> Answer:
        """One answer, nothing stored (the ``/ask`` endpoint)."""
        reason = self.check(question, "en")
        if reason:
            raise ValueError(reason)
        return self.answerers(options).ask(question, history=history or [], options=options)
