"""The web chat's page: ``create_app(chat)`` lays out the Gradio Blocks and wires its events
to a ``WebChat``. No logic here beyond the wiring; gradio is imported inside the functions,
so ``ancre --help`` stays instant."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ancre.index import EXTENSIONS

from .render import NO_SOURCES

if TYPE_CHECKING:
    import gradio as gr

    from .chat import WebChat

CSS = """
.ancre-sources { font-size: 0.95em; line-height: 1.5; }
.ancre-sources h3 { margin: 0.2em 0 0.6em; font-size: 1.05em; }
.ancre-sources .ancre-turn { margin-bottom: 1em; }
.ancre-sources .ancre-turn > summary { cursor: pointer; font-weight: 600; margin-bottom: 0.5em; }
.ancre-source { border: 1px solid var(--border-color-primary, #ddd); border-radius: 8px;
  padding: 0.6em 0.8em; margin: 0 0 0.8em; scroll-margin-top: 1em; }
.ancre-source:target { outline: 3px solid var(--color-accent, #f97316); }
.ancre-source-head { font-weight: 600; margin-bottom: 0.2em; }
.ancre-source-num { display: inline-block; min-width: 2em; }
.ancre-source-meta { font-size: 0.88em; opacity: 0.8; margin-bottom: 0.4em; word-break: break-all; }
.ancre-source-text { white-space: pre-wrap; margin: 0; }
.ancre-source-text mark { background: #fde68a; color: #111; padding: 0 0.1em; border-radius: 3px; }
.ancre-abstained { border-left: 4px solid #f59e0b; padding-left: 0.6em; margin-bottom: 0.8em; }
.ancre-empty { opacity: 0.7; }
"""


def create_app(web: WebChat) -> gr.Blocks:
    """The Gradio Blocks of the web chat, answering through ``web``."""
    import gradio as gr

    with gr.Blocks(title="ancre", analytics_enabled=False) as demo:
        gr.Markdown(
            "## ancre · questions sur vos articles\n"
            "Réponses courtes tirées des articles indexés, avec leurs sources vérifiées."
        )
        history = gr.State([])
        turns = gr.State([])
        with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="ancre-chat",
                    height=520,
                    sanitize_html=True,
                    render_markdown=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],
                    line_breaks=True,
                    placeholder="Posez une question sur vos articles, par exemple : "
                    "*Quand la ligne C du tramway de Bellerive-sur-Loire "
                    "ouvrira-t-elle ?*",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Votre question…",
                        show_label=False,
                        scale=5,
                        elem_id="ancre-question",
                        max_length=2000,
                        autofocus=True,
                    )
                    send = gr.Button("Envoyer", variant="primary", scale=1, elem_id="ancre-send")
                with gr.Row():
                    stop = gr.Button("Arrêter", size="sm", elem_id="ancre-stop")
                    new = gr.Button("Nouvelle conversation", size="sm", elem_id="ancre-new")
                with gr.Accordion("Réglages", open=False, elem_id="ancre-settings"):
                    top_k = gr.Slider(
                        1, 20, value=web.settings.top_k, step=1, label="Passages retrouvés (top_k)"
                    )
                    llm = gr.Dropdown(
                        web.llms,
                        value=web.settings.llm,
                        label="Modèle",
                        info="none : réponses extractives seulement",
                    )
                    temperature = gr.Slider(
                        0.0, 1.5, value=web.settings.temperature, step=0.1, label="Température"
                    )
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(
                    NO_SOURCES, elem_id="ancre-sources", css_template=CSS, js_on_load=None
                )
        with gr.Tab("Index", id="index"):
            stats = gr.Markdown(elem_id="ancre-stats")
            with gr.Row():
                with gr.Column():
                    files = gr.File(
                        label=f"Ajouter des articles ({' '.join(EXTENSIONS)} ; "
                        f"{web.max_upload_mb:g} Mo max par fichier)",
                        file_count="multiple",
                        file_types=list(EXTENSIONS),
                        elem_id="ancre-files",
                    )
                    folder = gr.Textbox(
                        label="…ou un dossier du serveur",
                        visible=web.allow_paths,
                        placeholder="/chemin/vers/articles",
                        elem_id="ancre-folder",
                    )
                    build = gr.Button("Indexer", variant="primary", elem_id="ancre-build")
                    report = gr.Markdown(elem_id="ancre-report")
                with gr.Column():
                    docs = gr.Dropdown(
                        [], multiselect=True, label="Documents indexés", elem_id="ancre-docs"
                    )
                    remove = gr.Button("Retirer de l’index", variant="stop", elem_id="ancre-remove")
                    removed = gr.Markdown()

        outputs = [box, chatbot, history, turns, sources]
        inputs = [box, chatbot, history, turns, top_k, llm, temperature]
        ask = gr.on(
            [box.submit, send.click],
            web.respond,
            inputs,
            outputs,
            concurrency_limit=8,
            concurrency_id="chat",
            api_visibility="private",
        )

        def do_stop(chat):
            time.sleep(0.5)  # let the cancelled answer's last updates land first
            return web.stopped(chat)

        stop.click(do_stop, [chatbot], [chatbot], cancels=[ask], api_visibility="private")
        new.click(web.clear, None, outputs, cancels=[ask], api_visibility="private")
        chatbot.clear(web.clear, None, outputs, cancels=[ask], api_visibility="private")

        def refresh():
            return web.stats_markdown(), gr.Dropdown(choices=web.document_choices(), value=[])

        def do_build(files_, folder_, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
            text = web.build(files_, folder_, progress=progress)
            return (text, None, *refresh())

        def do_remove(ids):
            return (web.remove(ids), *refresh())

        build.click(
            do_build,
            [files, folder],
            [report, files, stats, docs],
            concurrency_limit=1,
            concurrency_id="index",
            api_visibility="private",
        )
        remove.click(
            do_remove,
            [docs],
            [removed, stats, docs],
            concurrency_limit=1,
            concurrency_id="index",
            api_visibility="private",
        )
        demo.load(refresh, None, [stats, docs], api_visibility="private")
    return demo


def theme():
    """Gradio's default theme with system fonts: the page loads nothing from the internet."""
    import gradio as gr

    return gr.themes.Default(
        font=["system-ui", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )
