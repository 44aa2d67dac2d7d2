"""The web page: ``create_app(chat, library)`` lays out the Gradio Blocks and wires their
events to the controllers (``WebChat`` for the chat, ``Library`` for the Documents tab).
Nothing here decides anything; gradio is imported inside ``create_app`` so that
``ancre --help`` stays instant.

Per page: the owner of the conversations (the ``--auth`` user, else a random token kept in
the browser's storage), the page's language (``ancre_lang`` cookie, else Accept-Language),
and Gradio's session (the page's own queue). The only public API endpoints are ``/ask``
and ``/documents``; every other event is private.
"""

import secrets
from importlib.resources import files as package_files
from typing import TYPE_CHECKING, Any

from . import endpoints
from .account import account_box
from .article import article_reader
from .documents_tab import documents_tab, hint, lang_of
from .history import render_history
from .i18n import COOKIE, LANGUAGES, t, table
from .render import esc, summary_line

if TYPE_CHECKING:
    import gradio as gr

    from .chat import WebChat
    from .library import Library

STORAGE_KEY = "ancre"
STORAGE_SECRET = "ancre-local-page"
"""The browser keeps only a random token and the current conversation's id; the secret
(sent to the page anyway) just keeps the stored value opaque."""
EXPORT = """() => {
  const kept = document.querySelector('#ancre-chat .ancre-export');
  if (!kept) return;
  const url = URL.createObjectURL(new Blob([kept.textContent], { type: 'text/markdown' }));
  const link = document.createElement('a');
  Object.assign(link, { href: url, download: kept.dataset.name });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}"""
"""« Export »: the current conversation's Markdown, kept hidden in the thread, as a file."""
OPEN_SIDEBAR_ON_WIDE_SCREENS = """() => {
  const bar = document.querySelector('#ancre-sidebar');
  if (bar && window.innerWidth > 900 && !bar.classList.contains('open')) {
    bar.querySelector('.toggle-button')?.click();
  }
}"""
"""The conversations' sidebar starts closed (on a phone it would cover the chat)."""
LABELS = [
    "tab_chat",
    "tab_index",
    "question_placeholder",
    "question_label",
    "send",
    "stop",
    "new_conversation",
    "conversations",
    "rename",
    "rename_placeholder",
    "delete_conversation",
    "confirm_delete",
    "cancel",
    "settings",
    "top_k",
    "model",
    "model_info",
    "model_top",
    "history_search",
    "export",
    "language",
    "upload_label",
    "folder_label",
    "folder_button",
    "url_label",
    "url_button",
    "same_name_replace",
    "same_name_keep",
    "search_placeholder",
    "confirm_remove_button",
]


def asset(name: str) -> str:
    return package_files("ancre.ui").joinpath("assets", name).read_text(encoding="utf-8")


def i18n_tables() -> "gr.I18n":
    """Gradio's translations of the page's fixed labels (the frontend picks the page's
    language, which ``serve`` sets from the same cookie)."""
    import gradio as gr

    return gr.I18n(
        **{
            lang: {k: table(lang)[k] for k in LABELS}
            | {k.removeprefix("gradio."): v for k, v in table(lang).items() if k[:7] == "gradio."}
            for lang in LANGUAGES
        }
    )


def create_app(chat: "WebChat", library: "Library") -> "gr.Blocks":
    """The page of the web chat, answering through ``chat`` and managing ``library``."""
    import gradio as gr

    from .chat import Viewer, generator_choices

    i18n = gr.I18n()  # keys only: the texts are given to launch() by i18n_tables()

    def viewer(request: gr.Request, browser: dict | None) -> tuple[Viewer, dict]:
        browser = dict(browser or {})
        if not browser.get("token"):
            browser["token"] = secrets.token_urlsafe(16)
        lang = lang_of(request)
        user = getattr(request, "username", None)
        owner = f"user:{user}" if user else f"browser:{browser['token']}"
        return Viewer(owner, lang, request.session_hash or ""), browser

    def conversation_list(v: Viewer) -> tuple:
        """The sidebar's list, and its buttons usable only with a conversation open."""
        current = chat.current(v)
        some = gr.update(interactive=bool(current))
        return render_history(chat.conversations(v), current, v.lang), some, some, some

    def remember(browser: dict, v: Viewer) -> dict:
        return {**browser, "current": chat.current(v) or ""}

    with gr.Blocks(title="ancre", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        browser = gr.BrowserState(
            {"token": "", "current": ""}, storage_key=STORAGE_KEY, secret=STORAGE_SECRET
        )
        with gr.Sidebar(label=i18n("conversations"), open=False, elem_id="ancre-sidebar"):
            new = gr.Button(
                i18n("new_conversation"), variant="primary", size="sm", elem_id="ancre-new"
            )
            gr.Textbox(
                label=i18n("history_search"),
                placeholder=i18n("history_search"),
                show_label=False,
                elem_id="ancre-history-search",
            )
            conversations = gr.HTML(
                "", elem_id="ancre-conversations", js_on_load=asset("history.js")
            )
            rename_box = gr.Textbox(
                label=i18n("rename_placeholder"),
                placeholder=i18n("rename_placeholder"),
                show_label=False,
                interactive=False,
                elem_id="ancre-rename-box",
            )
            with gr.Row():
                rename = gr.Button(
                    i18n("rename"), size="sm", interactive=False, elem_id="ancre-rename"
                )
                delete = gr.Button(
                    i18n("delete_conversation"),
                    size="sm",
                    variant="stop",
                    interactive=False,
                    elem_id="ancre-delete",
                )
            gr.Button(i18n("export"), size="sm", elem_id="ancre-export").click(
                None, None, None, js=EXPORT, api_visibility="private"
            )
            with gr.Group(visible=False, elem_id="ancre-delete-confirm") as delete_group:
                delete_text = gr.HTML()
                with gr.Row():
                    delete_yes = gr.Button(
                        i18n("confirm_delete"),
                        variant="stop",
                        size="sm",
                        elem_id="ancre-delete-yes",
                    )
                    delete_no = gr.Button(i18n("cancel"), size="sm", elem_id="ancre-delete-no")
            with gr.Accordion(i18n("settings"), open=False, elem_id="ancre-settings"):
                top_k = gr.Slider(1, 20, value=chat.settings.top_k, step=1, label=i18n("top_k"))
            language = gr.Radio(
                [("Français", "fr"), ("English", "en")],
                label=i18n("language"),
                elem_id="ancre-lang",
            )
            account_box(demo)
        with gr.Row(elem_id="ancre-top", equal_height=False):
            header = gr.HTML(elem_id="ancre-header")
            llm = gr.Dropdown(
                generator_choices(chat.settings.llm, "fr"),
                value=chat.settings.llm,
                label=i18n("model_top"),
                scale=0,
                min_width=220,
                elem_id="ancre-llm",
            )
        with gr.Tabs(elem_id="ancre-tabs"):
            with gr.Tab(i18n("tab_chat"), id="chat"):
                summary = gr.HTML(elem_id="ancre-summary")
                thread = gr.HTML(
                    "",
                    elem_id="ancre-chat",
                    js_on_load=asset("chat.js") + asset("conversation.js"),
                    head=f"<style>{asset('chat.css')}{asset('conversation.css')}</style>",
                    apply_default_css=False,
                    limit=chat.settings.max_question_chars,
                    texts={},
                )
                with gr.Row(elem_id="ancre-notes"):
                    hint_box = gr.HTML(elem_id="ancre-hint", container=False)
                    gr.HTML(
                        '<p id="ancre-counter" aria-live="polite"></p>',
                        container=False,
                        elem_id="ancre-counter-box",
                    )
                with gr.Row(elem_id="ancre-inputbar", equal_height=False):
                    box = gr.Textbox(
                        label=i18n("question_label"),
                        placeholder=i18n("question_placeholder"),
                        show_label=False,
                        lines=1,
                        max_lines=6,
                        scale=8,
                        autofocus=True,
                        elem_id="ancre-question",
                    )
                    send = gr.Button(i18n("send"), variant="primary", scale=1, elem_id="ancre-send")
                    stop = gr.Button(
                        i18n("stop"), variant="stop", scale=1, visible=False, elem_id="ancre-stop"
                    )
            with gr.Tab(i18n("tab_index"), id="index"):
                tab = documents_tab(library, summary, i18n)
        article_reader(library.index_settings, asset("article.js"))

        # ---- page load: who, which language, which conversation
        def on_load(browser_value: dict, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            chat.open(v, browser_value.get("current"))
            docs, chunks, updated = library.summary()
            return (
                remember(browser_value, v),
                f"<h1>{esc(t(v.lang, 'title'))}</h1><p>{esc(t(v.lang, 'tagline'))}</p>",
                summary_line(docs, chunks, updated, v.lang),
                gr.HTML(
                    value=chat.view(v),
                    texts={
                        "close": t(v.lang, "close"),
                        "sidebar": t(v.lang, "sidebar_toggle"),
                    },
                ),
                *conversation_list(v),
                v.lang,
                gr.Dropdown(choices=generator_choices(chat.settings.llm, v.lang)),
                *tab.values(v.lang),
            )

        def on_follow(browser_value: dict, request: gr.Request):
            v, _ = viewer(request, browser_value)
            shown = False
            for html in chat.follow(v):
                shown = True
                yield html, *[gr.skip()] * len(history_out)
            # (a generator that yields nothing would empty the thread)
            yield gr.skip(), *(conversation_list(v) if shown else [gr.skip()] * len(history_out))

        private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        history_out = [conversations, rename, delete, rename_box]
        loaded = demo.load(
            on_load,
            [browser],
            [
                browser,
                header,
                summary,
                thread,
                *history_out,
                language,
                llm,
                *tab.outputs(),
            ],
            **private,
        )
        loaded.then(
            on_follow,
            [browser],
            [thread, *history_out],
            concurrency_limit=16,
            concurrency_id="follow",
            **private,
        )
        demo.load(None, None, None, js=OPEN_SIDEBAR_ON_WIDE_SCREENS, **private)

        # ---- asking: accept (or say why not), then answer what waits
        def accepted(v: Viewer, browser_value: dict, result) -> tuple:
            return (
                hint(result.message),
                chat.view(v),
                remember(browser_value, v),
                *conversation_list(v),
                gr.Button(visible=True) if result.accepted else gr.skip(),
            )

        def on_submit(question, browser_value, k, model, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            result = chat.submit(v, question, chat.options(k, model))
            box_value = "" if result.accepted else gr.skip()
            return (box_value, *accepted(v, browser_value, result))

        def on_example(browser_value, k, model, evt: gr.EventData, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            result = chat.submit(v, str(evt._data.get("question", "")), chat.options(k, model))
            return accepted(v, browser_value, result)

        def on_regenerate(browser_value, k, model, evt: gr.EventData, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            result = chat.regenerate(v, int(evt._data.get("turn", -1)), chat.options(k, model))
            return accepted(v, browser_value, result)

        def on_edit(browser_value, k, model, evt: gr.EventData, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            turn, question = int(evt._data.get("turn", -1)), str(evt._data.get("question", ""))
            result = chat.regenerate(v, turn, chat.options(k, model), question=question)
            return accepted(v, browser_value, result)

        def on_feedback(browser_value, evt: gr.EventData, request: gr.Request):
            v, _ = viewer(request, browser_value)
            rating = str(evt._data.get("rating", ""))
            if rating not in ("up", "down", ""):
                return gr.skip()
            chat.rate(v, int(evt._data.get("turn", -1)), rating, str(evt._data.get("comment", "")))
            return chat.view(v)

        thread.feedback(on_feedback, [browser], [thread], **private)

        def on_drain(browser_value, request: gr.Request):
            v, _ = viewer(request, browser_value)
            answered = False
            for html in chat.drain(v):
                answered = True
                yield html, gr.skip(), gr.Button(visible=True), gr.skip()
            if not answered:  # another answer of this page takes the new question
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            elif not chat.busy(v):  # (after Stop, the page shows what it is doing now)
                listed = render_history(chat.conversations(v), chat.current(v), v.lang)
                yield chat.view(v), listed, gr.Button(visible=False), ""

        settings_in = [top_k, llm]
        answer_out = [thread, conversations, stop, hint_box]
        for event in (
            gr.on(
                [box.submit, send.click],
                on_submit,
                [box, browser, *settings_in],
                [box, hint_box, thread, browser, *history_out, stop],
                **private,
            ),
            thread.ask(
                on_example,
                [browser, *settings_in],
                [hint_box, thread, browser, *history_out, stop],
                **private,
            ),
            thread.regenerate(
                on_regenerate,
                [browser, *settings_in],
                [hint_box, thread, browser, *history_out, stop],
                **private,
            ),
            thread.edit(
                on_edit,
                [browser, *settings_in],
                [hint_box, thread, browser, *history_out, stop],
                **private,
            ),
        ):
            event.then(
                on_drain,
                [browser],
                answer_out,
                concurrency_limit=16,
                concurrency_id="answer",
                trigger_mode="multiple",
                **private,
            )

        # ---- stop, switch conversation: what waited goes back into the box
        def back_to_box(left: list[str], typed: str) -> str:
            return "\n".join(q for q in [*left, (typed or "").strip()] if q)

        def on_stop(typed, browser_value, request: gr.Request):
            v, _ = viewer(request, browser_value)
            return back_to_box(chat.stop(v), typed), chat.view(v), gr.Button(visible=False), ""

        stop.click(on_stop, [box, browser], [box, thread, stop, hint_box], **private)

        def switched(
            v: Viewer, browser_value: dict, left: list[str], typed: str, note: str = ""
        ) -> tuple:
            return (
                back_to_box(left, typed),
                chat.view(v),
                remember(browser_value, v),
                *conversation_list(v),
                gr.Button(visible=False),
                hint(note),
                gr.Group(visible=False),
            )

        switch_out = [box, thread, browser, *history_out, stop, hint_box, delete_group]

        def on_new(typed, browser_value, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            return switched(v, browser_value, chat.open(v, None), typed)

        def on_open(typed, browser_value, evt: gr.EventData, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            return switched(v, browser_value, chat.open(v, str(evt._data.get("id", ""))), typed)

        new.click(on_new, [box, browser], switch_out, **private)
        conversations.open(on_open, [box, browser], switch_out, **private)

        def on_rename(title, browser_value, request: gr.Request):
            v, _ = viewer(request, browser_value)
            done = chat.rename(v, title or "")
            blank = not (title or "").strip()
            said = "conversation_renamed" if done else "rename_blank" if blank else ""
            return (
                ("" if done else gr.skip()),
                render_history(chat.conversations(v), chat.current(v), v.lang),
                hint(t(v.lang, said) if said else ""),
            )

        rename.click(
            on_rename, [rename_box, browser], [rename_box, conversations, hint_box], **private
        )
        rename_box.submit(
            on_rename, [rename_box, browser], [rename_box, conversations, hint_box], **private
        )

        def on_delete_ask(browser_value, request: gr.Request):
            v, _ = viewer(request, browser_value)
            conv = chat.store.get(v.owner, chat.current(v))
            if conv is None:
                return gr.Group(visible=False), ""
            text = t(v.lang, "confirm_delete_conversation", title=conv.title)
            return gr.Group(visible=True), f"<p>{esc(text)}</p>"

        def on_delete(typed, browser_value, request: gr.Request):
            v, browser_value = viewer(request, browser_value)
            left = chat.delete(v)
            return switched(v, browser_value, left, typed, t(v.lang, "conversation_deleted"))

        delete.click(on_delete_ask, [browser], [delete_group, delete_text], **private)
        delete_yes.click(on_delete, [box, browser], switch_out, **private)
        delete_no.click(lambda: gr.Group(visible=False), None, delete_group, **private)

        # ---- language: a cookie, then the page again in that language (nothing is lost)
        language.input(
            None,
            [language],
            None,
            js=f"(lang) => {{ document.cookie = '{COOKIE}=' + lang + '; path=/; max-age=31536000; "
            "SameSite=Lax'; window.location.reload(); }",
            **private,
        )

        def on_unload(request: gr.Request):
            chat.close(Viewer("", "fr", request.session_hash or ""))

        demo.unload(on_unload)

        endpoints.register(chat, library)
    return demo


def theme() -> Any:
    """Gradio's default theme with system fonts: the page loads nothing from the internet."""
    import gradio as gr

    return gr.themes.Default(
        font=["system-ui", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    ).set(
        # WCAG AA (4.5:1) for text: Gradio's orange-500 and grey-400 texts are below it
        color_accent="*primary_700",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700",
        button_cancel_background_fill="#b91c1c",
        button_cancel_background_fill_hover="#991b1b",
        button_cancel_text_color="white",
        body_text_color_subdued="*neutral_600",
        body_text_color_subdued_dark="*neutral_300",
        input_placeholder_color="*neutral_600",
        input_placeholder_color_dark="*neutral_400",
    )
