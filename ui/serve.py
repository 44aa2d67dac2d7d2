"""``ancre chat``: index the sample articles on first run, check the host and the
credentials, warm the models up, and serve the page."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import threading
from typing import Any

from ancre.index import IndexSettings
from ancre.qa import AnswerSettings

from .uploads import MAX_UPLOAD_MB

log = logging.getLogger(__name__)


def has_index(index_dir: str) -> bool:
    from ancre.index import IndexReader, StoreError

    try:
        IndexReader(index_dir).close()
    except StoreError:
        return False
    return True


def build_sample(settings: IndexSettings) -> None:
    from ancre import index
    from ancre.samples import ARTICLES

    print(
        f"ancre: first run: indexing the sample articles into {settings.index_dir}…",
        file=sys.stderr,
        flush=True,
    )
    report = index.build([ARTICLES], settings=settings)
    print(
        f"ancre: {report.documents_total} documents, {report.chunks_total} chunks "
        f"({report.seconds:.0f} s)",
        file=sys.stderr,
        flush=True,
    )


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warm_up(settings: AnswerSettings, index_settings: IndexSettings) -> None:
    """Load the index, the embedding model and the generator in the background, through
    the public API: the first answer does not wait for them."""
    try:
        from ancre.qa import answerer

        answerer(settings, index_settings).ask("ancre")
    except Exception as err:  # the first question will report it
        log.warning("warm-up failed: %s", err)


def serve(args: Any, index_settings: IndexSettings, settings: AnswerSettings) -> int:
    """``ancre chat``: build the sample corpus on first run, then serve the page."""
    from ancre import qa

    from .app import create_app, theme
    from .chat import WebChat

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    auth = None
    if getattr(args, "auth", None):
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            print("ancre: error: --auth expects USER:PASSWORD", file=sys.stderr)
            return 2
        auth = (user, password)
    if not has_index(index_settings.index_dir):
        if getattr(args, "no_sample", False):
            print(
                f"ancre: no index in {index_settings.index_dir} yet: add articles in the Index "
                "tab, or run `ancre index build SOURCE...`",
                file=sys.stderr,
            )
        else:
            build_sample(index_settings)
    host = getattr(args, "host", "127.0.0.1") or "127.0.0.1"
    share = bool(getattr(args, "share", False))
    if not is_local(host) and auth is None:
        print(
            f"ancre: warning: listening on {host} without --auth: anyone who can reach "
            "this machine can read the indexed articles",
            file=sys.stderr,
        )
    web = WebChat(
        lambda options: qa.answerer(options, index_settings),
        settings,
        index_settings,
        allow_paths=is_local(host) and not share,
    )
    app = create_app(web)
    app.queue(default_concurrency_limit=8)
    port = getattr(args, "port", 7860)
    try:
        app.launch(
            server_name=host,
            server_port=port,
            share=share,
            auth=auth,
            max_file_size=f"{MAX_UPLOAD_MB:g}mb",
            theme=theme(),
            show_error=False,
            inbrowser=False,
            footer_links=["gradio", "settings"],
            ssr_mode=False,
            pwa=False,
            mcp_server=False,
            quiet=True,
            prevent_thread_lock=True,
        )
    except OSError as err:
        if "port" not in str(err).lower():
            raise
        print(
            f"ancre: error: cannot listen on {host}:{port} (in use?); choose another with --port",
            file=sys.stderr,
        )
        return 1
    if has_index(index_settings.index_dir):
        threading.Thread(target=warm_up, args=(settings, index_settings), daemon=True).start()
    print(
        f"ancre: web chat on {app.local_url}"
        + (f" and {app.share_url}" if app.share_url else "")
        + " (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    app.block_thread()  # returns on Ctrl-C, after closing the server
    return 0
