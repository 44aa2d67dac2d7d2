"""The Documents tab: the library of indexed documents (search, remove with a confirmation
naming the document), uploads indexed as soon as they arrive with one status line per file
(a file named like a different indexed document asks: replace it, or keep both), a box for a
feed's or a page's URL, and the server folders that ``--allow-dir`` allows.
Layout and wiring only; the work is ``Library``'s."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ancre.index import EXTENSIONS

from .i18n import COOKIE, choose, counted, t
from .library import render_documents, render_statuses
from .render import esc, file_name, summary_line
from .uploads import discard_received

if TYPE_CHECKING:
    import gradio as gr

    from .library import Library

REMOVE_JS = (
    "element.addEventListener('click', (e) => { const b = e.target.closest('.ancre-remove'); "
    "if (b) trigger('remove', {doc: b.dataset.doc}); });"
    "document.addEventListener('keydown', (e) => { const d = "
    "document.querySelector('#ancre-remove-confirm'); if (e.key === 'Escape' && d && "
    "d.getClientRects().length) document.querySelector('#ancre-remove-no')?.click(); });"
    "document.addEventListener('keydown', (e) => { const d = "
    "document.querySelector('#ancre-same-name'); if (e.key === 'Escape' && d && "
    "d.getClientRects().length) document.querySelector('#ancre-same-name-cancel')?.click(); });"
)


def dialog_js(group: str, focus: str) -> str:
    """Make the confirmation ``group`` a dialog once shown, with the focus on ``focus``."""
    return f"""() => {{
  let tries = 40;
  const show = () => {{
    const d = document.querySelector('#{group}');
    if (!d || !d.getClientRects().length) {{ if (tries-- > 0) setTimeout(show, 25); return; }}
    d.setAttribute('role', 'dialog');
    d.setAttribute('aria-modal', 'true');
    d.querySelector('#{focus}')?.focus();
  }};
  show();
}}"""


CONFIRM_JS = dialog_js("ancre-remove-confirm", "ancre-remove-no")
"""The remove confirmation is a dialog over the page: it takes the focus (on Cancel), since
on a long library the row clicked is far from where the group sits."""
SAME_NAME_JS = dialog_js("ancre-same-name", "ancre-same-name-replace")


def lang_of(request: "gr.Request") -> str:
    """The page's language, as the page was given it (cookie, else Accept-Language)."""
    return choose(request.cookies.get(COOKIE), request.headers.get("accept-language"))


def hint(text: str) -> str:
    return f'<p role="status">{esc(text)}</p>' if text else ""


def library_line(docs: int, chunks: int, lang: str) -> str:
    text = t(
        lang,
        "library_count",
        documents=counted(docs, "documents", lang),
        chunks=counted(chunks, "passages", lang),
    )
    return f'<p class="ancre-summary">{esc(text)}</p>'


@dataclass
class DocumentsTab:
    """What the page fills when it loads."""

    library: "Library"
    summary: Any
    documents: Any
    upload_info: Any

    def outputs(self) -> list[Any]:
        return [self.summary, self.upload_info, self.documents]

    def values(self, lang: str) -> tuple:
        docs, chunks, _updated = self.library.summary()
        mb = f"{self.library.max_upload_mb:g}"
        info = t(lang, "upload_info", extensions=" ".join(EXTENSIONS), mb=mb)
        return (
            library_line(docs, chunks, lang),
            f"<p>{esc(info)}</p>",
            render_documents(self.library.documents(), lang),
        )


def documents_tab(library: "Library", chat_summary: Any, i18n: "gr.I18n") -> DocumentsTab:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events; ``chat_summary``
    (the chat's line on what is indexed) is updated with it."""
    import gradio as gr

    private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
    summary = gr.HTML(elem_id="ancre-library-summary")
    uploads = gr.File(
        label=i18n("upload_label"),
        file_count="multiple",
        file_types=list(EXTENSIONS),
        elem_id="ancre-files",
    )
    upload_info = gr.HTML(elem_id="ancre-upload-info")
    report = gr.HTML(elem_id="ancre-report")
    with gr.Group(visible=False, elem_id="ancre-same-name") as same_group:
        same_text = gr.HTML()
        with gr.Row():
            same_replace = gr.Button(
                i18n("same_name_replace"), variant="primary", elem_id="ancre-same-name-replace"
            )
            same_keep = gr.Button(i18n("same_name_keep"), elem_id="ancre-same-name-keep")
            same_cancel = gr.Button(i18n("cancel"), elem_id="ancre-same-name-cancel")
    batch = gr.State([])
    folders = library.folders()
    with gr.Row(visible=bool(folders)):
        folder = gr.Dropdown(
            [(name, i) for i, name in enumerate(folders)],
            value=0 if folders else None,
            label=i18n("folder_label"),
            elem_id="ancre-folder",
        )
        folder_go = gr.Button(i18n("folder_button"), elem_id="ancre-folder-go")
    with gr.Row():
        url = gr.Textbox(
            label=i18n("url_label"), placeholder="https://", elem_id="ancre-url", scale=4
        )
        url_go = gr.Button(i18n("url_button"), elem_id="ancre-url-go", scale=1)
    search = gr.Textbox(
        label=i18n("search_placeholder"),
        placeholder=i18n("search_placeholder"),
        show_label=False,
        elem_id="ancre-search",
    )
    with gr.Group(visible=False, elem_id="ancre-remove-confirm") as remove_group:
        remove_text = gr.HTML()
        with gr.Row():
            remove_yes = gr.Button(
                i18n("confirm_remove_button"),
                variant="stop",
                elem_id="ancre-remove-yes",
            )
            remove_no = gr.Button(i18n("cancel"), elem_id="ancre-remove-no")
    removed = gr.HTML(elem_id="ancre-removed")
    documents = gr.HTML(
        elem_id="ancre-library",
        apply_default_css=False,
        js_on_load=REMOVE_JS,
    )
    doc_to_remove = gr.State("")

    def refreshed(lang: str, query: str = "") -> tuple:
        docs, chunks, updated = library.summary()
        return (
            render_documents(library.documents(query or ""), lang, query or ""),
            summary_line(docs, chunks, updated, lang),
            library_line(docs, chunks, lang),
        )

    def asking(statuses: list, lang: str) -> tuple:
        """The same-name question for the held files of ``statuses`` (hidden when none)."""
        waiting = [s for s in statuses if s.state == "same_name"]
        if not waiting:
            return gr.Group(visible=False), "", []
        names = ", ".join(f"« {file_name(s.name)} »" for s in waiting)
        text = t(lang, "same_name_question", names=names)
        return gr.Group(visible=True), f"<p>{esc(text)}</p>", statuses

    def on_upload(paths, query, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        lang = lang_of(request)
        step = lambda f, _desc: progress(f, desc=t(lang, "indexing"))  # noqa: E731
        try:
            statuses = library.add_files([str(p) for p in paths or []], step, same_name="ask")
        finally:
            discard_received(paths or [])
        return (
            render_statuses(statuses, lang),
            *refreshed(lang, query),
            None,
            *asking(statuses, lang),
        )

    def on_decide(choice: str):
        def decided(statuses, query, request: gr.Request, progress=gr.Progress()):  # noqa: B008
            lang = lang_of(request)
            step = lambda f, _desc: progress(f, desc=t(lang, "indexing"))  # noqa: E731
            waiting = [s for s in statuses if s.state == "same_name"]
            done = library.decide(waiting, choice, step) if waiting else []
            shown = [s for s in statuses if s.state != "same_name"] + done
            return render_statuses(shown, lang), *refreshed(lang, query), *asking([], lang)

        return decided

    def on_folder(choice, query, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        lang = lang_of(request)
        step = lambda f, _desc: progress(f, desc=t(lang, "indexing"))  # noqa: E731
        statuses = library.add_folder(int(choice if choice is not None else -1), step)
        return render_statuses(statuses, lang), *refreshed(lang, query)

    def on_url(address, query, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        lang = lang_of(request)
        step = lambda f, _desc: progress(f, desc=t(lang, "indexing"))  # noqa: E731
        statuses = library.add_url(address or "", step)
        return render_statuses(statuses, lang), *refreshed(lang, query)

    index_out = [report, documents, chat_summary, summary]
    index_opts: dict[str, Any] = {
        "api_visibility": "private",
        "concurrency_limit": 1,
        "concurrency_id": "index",
        "show_progress_on": [report],
    }
    same_out = [same_group, same_text, batch]
    uploads.upload(
        on_upload, [uploads, search], [*index_out, uploads, *same_out], **index_opts
    ).then(None, None, None, js=SAME_NAME_JS, **private)
    for button, choice in ((same_replace, "replace"), (same_keep, "keep"), (same_cancel, "cancel")):
        button.click(on_decide(choice), [batch, search], [*index_out, *same_out], **index_opts)
    folder_go.click(on_folder, [folder, search], index_out, **index_opts)
    url_go.click(on_url, [url, search], index_out, **index_opts)
    url.submit(on_url, [url, search], index_out, **index_opts)

    def on_search(query, request: gr.Request):
        lang = lang_of(request)
        return render_documents(library.documents(query or ""), lang, query or "")

    search.change(on_search, [search], [documents], trigger_mode="always_last", **private)

    def on_remove_ask(evt: gr.EventData, request: gr.Request):
        lang, doc_id = lang_of(request), str(evt._data.get("doc", ""))
        doc = next((d for d in library.documents() if d["doc_id"] == doc_id), None)
        if doc is None:
            return gr.Group(visible=False), "", "", hint(t(lang, "remove_missing"))
        text = t(
            lang,
            "confirm_remove",
            title=doc.get("title") or doc_id.rsplit("/", 1)[-1],
            passages=counted(int(doc.get("n_chunks") or 0), "passages", lang),
        )
        return gr.Group(visible=True), f"<p>{esc(text)}</p>", doc_id, ""

    def on_remove(doc_id, query, request: gr.Request):
        from ancre.index import BuildLocked

        lang = lang_of(request)
        try:
            title = library.remove(doc_id) if doc_id else None
            note = t(lang, "removed", title=title) if title else t(lang, "remove_missing")
        except BuildLocked:
            note = t(lang, "busy")
        return hint(note), gr.Group(visible=False), "", *refreshed(lang, query)

    documents.remove(
        on_remove_ask, None, [remove_group, remove_text, doc_to_remove, removed], **private
    ).then(None, None, None, js=CONFIRM_JS, **private)
    remove_yes.click(
        on_remove,
        [doc_to_remove, search],
        [removed, remove_group, doc_to_remove, documents, chat_summary, summary],
        api_visibility="private",
        concurrency_limit=1,
        concurrency_id="index",
    )
    remove_no.click(
        lambda: (gr.Group(visible=False), ""), None, [remove_group, doc_to_remove], **private
    )
    return DocumentsTab(library, summary, documents, upload_info)
