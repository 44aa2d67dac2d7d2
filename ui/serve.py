"""``ancre chat``: index the sample articles on first run, read the credentials, check the
Host header, warm the models up, and serve the page.

What the page may read on the server: the index, and the folders named with
``--allow-dir`` (none by default: uploads only). What may reach it: requests for a loopback
name (or the bound address, or an ``--allow-host`` name), with the credentials when
``--auth`` / ``--auth-file`` / ``ANCRE_AUTH`` give some.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ancre.index import IndexSettings, describe_location
from ancre.qa import AnswerSettings

from .uploads import MAX_UPLOAD_MB

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeSettings:
    """How ``ancre chat`` serves the page (flags, else ``ANCRE_*`` variables)."""

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""
    """USER:PASSWORD (several separated by commas) required to open the page."""
    auth_file: str = ""
    """A file of USER:PASSWORD lines, the same for a file kept out of the command line."""
    api_key: str = ""
    """Bearer tokens the API (``/v1``, ``/mcp``) accepts besides the ``--auth`` accounts
    (ANCRE_API_KEY; several separated by commas)."""
    allow_dir: tuple[str, ...] = ()
    """Server folders the page may index (ANCRE_ALLOW_DIR: separated by the path separator)."""
    allow_host: tuple[str, ...] = ()
    """Host names the page answers to besides the loopback ones (ANCRE_ALLOW_HOST: commas)."""
    share: bool = False
    no_sample: bool = False
    max_upload_mb: float = MAX_UPLOAD_MB
    allow_private_urls: bool = False
    """The Documents tab may read URLs of this machine and its private network."""

    def __post_init__(self) -> None:
        for name, sep in (("allow_dir", os.pathsep), ("allow_host", ",")):
            value = getattr(self, name)
            items = value.split(sep) if isinstance(value, str) else list(value or ())
            object.__setattr__(self, name, tuple(i.strip() for i in items if i and i.strip()))


def credentials(settings: ServeSettings) -> list[tuple[str, str]] | None:
    """The accounts of ``--auth`` and ``--auth-file`` (None: no login); ValueError with
    what to fix."""
    pairs = [p for p in settings.auth.split(",") if p.strip()]
    if settings.auth_file:
        path = Path(settings.auth_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise ValueError(f"--auth-file {path}: {err.strerror or err}") from None
        pairs += [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not pairs:
            raise ValueError(f"--auth-file {path}: no USER:PASSWORD line")
    accounts = []
    for pair in pairs:
        user, sep, password = pair.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError("--auth expects USER:PASSWORD (ANCRE_AUTH, --auth-file: the same)")
        accounts.append((user, password))
    return accounts or None


def allowed_folders(settings: ServeSettings) -> list[Path]:
    folders = []
    for d in settings.allow_dir:
        path = Path(d).expanduser()
        if not path.is_dir():
            raise ValueError(f"--allow-dir {path}: not a folder")
        folders.append(path.resolve())
    return folders


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def has_index(settings: IndexSettings) -> bool:
    """Whether the store ``settings`` name (a directory or Milvus) holds a finished build."""
    from ancre.index import StoreError, open_reader

    try:
        open_reader(settings).close()
    except StoreError:
        return False
    return True


def build_sample(settings: IndexSettings) -> None:
    from ancre import index
    from ancre.samples import ARTICLES

    say(f"first run: indexing the sample articles into {describe_location(settings)}…")
    report = index.build([ARTICLES], settings=settings)
    say(
        f"{report.documents_total} documents, {report.chunks_total} chunks ({report.seconds:.0f} s)"
    )


def say(text: str) -> None:
    print(f"ancre: {text}", file=sys.stderr, flush=True)


def warm_up(settings: AnswerSettings, index_settings: IndexSettings) -> None:
    """Load the index, the embedding model and the generator in the background, through
    the public API: the first answer does not wait for them."""
    try:
        from ancre.qa import open_answerer

        open_answerer(settings, index_settings).ask("ancre")
    except Exception as err:  # the first question will report it
        log.warning("warm-up failed: %s", err)


def api_keys(settings: ServeSettings) -> list[str]:
    return [k.strip() for k in settings.api_key.split(",") if k.strip()]


def launch(
    demo: Any,
    settings: ServeSettings,
    auth: list[tuple[str, str]] | None = None,
    routes: list | None = None,
    lifespan: Any = None,
) -> Any:
    """Start serving ``demo`` (returns at once; ``demo.close()`` stops it): the queue, the
    Host check, the page's language, the login; ``routes`` (the API's mounts) come before
    the page's own, ``lifespan`` runs with the server."""
    from starlette.middleware import Middleware

    from .app import i18n_tables, theme
    from .login import LoginGuard
    from .middleware import HostCheck, PageLanguage, allowed_hosts

    any_address = settings.host in ("0.0.0.0", "::")
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth=LoginGuard(auth) if auth else None,
        max_file_size=f"{settings.max_upload_mb:g}mb",
        theme=theme(),
        i18n=i18n_tables(),
        show_error=False,
        inbrowser=False,
        footer_links=["api"],
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        quiet=True,
        prevent_thread_lock=True,
        app_kwargs={
            "routes": list(routes or []),
            **({"lifespan": lifespan} if lifespan is not None else {}),
            "middleware": [
                Middleware(
                    HostCheck,
                    allowed=allowed_hosts(settings.host, settings.allow_host),
                    any_address=any_address,
                    share=settings.share,
                ),
                Middleware(PageLanguage),
            ],
        },
    )
    return demo


def serve(settings: ServeSettings, index_settings: IndexSettings, answers: AnswerSettings) -> int:
    """``ancre chat``: build the sample corpus on first run, then serve the page until
    Ctrl-C."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ancre import qa

    from .apiserve import api_routes
    from .app import create_app
    from .chat import WebChat
    from .conversations import ConversationStore
    from .library import Library
    from .openai_api import Gate

    try:
        auth = credentials(settings)
        folders = allowed_folders(settings)
    except ValueError as err:
        print(f"ancre: error: {err}", file=sys.stderr)
        return 2
    if not has_index(index_settings):
        if settings.no_sample:
            say(
                f"no index in {describe_location(index_settings)} yet: add articles in the "
                "Documents tab, or run `ancre index build SOURCE...`"
            )
        else:
            build_sample(index_settings)
    if not is_local(settings.host) and auth is None:
        say(
            f"warning: listening on {settings.host} without --auth: anyone who can reach "
            "this machine can read the indexed articles"
        )
    library = Library(
        index_settings,
        allow_dirs=folders,
        max_upload_mb=settings.max_upload_mb,
        allow_private_urls=settings.allow_private_urls,
    )
    from .followups import FollowUps

    answerers = functools.partial(qa.open_answerer, index_settings=index_settings)

    chat = WebChat(
        answerers,
        answers,
        ConversationStore.beside(index_settings.index_dir),
        examples=library,
        suggester=FollowUps(answerers, answers),
    )
    demo = create_app(chat, library)
    gate = Gate(api_keys(settings), auth or [])
    try:
        launch(demo, settings, auth, *api_routes(chat.answerers, answers, gate))
    except OSError as err:
        if "port" not in str(err).lower():
            raise
        print(
            f"ancre: error: cannot listen on {settings.host}:{settings.port} (in use?); "
            "choose another with --port",
            file=sys.stderr,
        )
        return 1
    if has_index(index_settings):
        threading.Thread(target=warm_up, args=(answers, index_settings), daemon=True).start()
    warm = answer_asks(chat.answerers, answers, index_settings)
    say(
        f"web chat on {demo.local_url}"
        + (f" and {demo.share_url}" if demo.share_url else "")
        + f"; API on {demo.local_url.rstrip('/')}/v1 and /mcp (Ctrl-C to stop)"
    )
    try:
        demo.block_thread()  # returns on Ctrl-C, after closing the server
    finally:
        warm.close()
    return 0


def serve_api(
    settings: ServeSettings, index_settings: IndexSettings, answers: AnswerSettings
) -> int:
    """``ancre serve``: build the sample corpus on first run, then serve the API until
    Ctrl-C."""
    from ancre import qa

    from .apiserve import api_app, start
    from .openai_api import MODEL, Gate

    try:
        gate = Gate(api_keys(settings), credentials(settings) or [])
    except ValueError as err:
        print(f"ancre: error: {err}", file=sys.stderr)
        return 2
    if not has_index(index_settings):
        if settings.no_sample:
            say("no index yet: run `ancre index build SOURCE...` first")
            return 1
        build_sample(index_settings)
    if not is_local(settings.host) and gate.open:
        say(
            f"warning: listening on {settings.host} without --api-key or --auth: anyone who "
            "can reach this machine can read the indexed articles"
        )

    answerers = functools.partial(qa.open_answerer, index_settings=index_settings)

    app = api_app(answerers, answers, settings, gate)
    try:
        running = start(app, settings.host, settings.port)
    except OSError as err:
        print(f"ancre: error: {err}", file=sys.stderr)
        return 1
    threading.Thread(target=warm_up, args=(answers, index_settings), daemon=True).start()
    warm = answer_asks(answerers, answers, index_settings)
    say(
        f"OpenAI-compatible API on {running.url}/v1 (model {MODEL}), MCP on "
        f"{running.url}/mcp (Ctrl-C to stop)"
    )
    try:
        running.thread.join()
    except KeyboardInterrupt:
        running.close()
    finally:
        warm.close()
    return 0


def answer_asks(answerers: Any, answers: AnswerSettings, index_settings: IndexSettings) -> Any:
    """Answer the ``ancre ask`` of this index from this process (``warm.py``), until closed;
    a SIGTERM then stops the server as Ctrl-C does, so that closing removes the socket."""
    from .warm import WarmServer

    _stop_on_sigterm()
    warm = WarmServer(answerers, answers, index_settings)
    if warm.start():
        log.info("`ancre ask` of this index is answered here (%s)", warm.path)
    return warm


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a service manager) raises KeyboardInterrupt in the main thread,
    where no other handler was set: the server then closes as on Ctrl-C."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve_stdio(index_settings: Any, answers: AnswerSettings) -> int:
    """``ancre mcp``: the server over stdin/stdout (logs on stderr)."""
    from ancre import qa

    from .mcp_server import create_mcp, require_mcp

    require_mcp()
    if not has_index(index_settings):
        build_sample(index_settings)
    server = create_mcp(functools.partial(qa.open_answerer, index_settings=index_settings), answers)
    print("ancre: MCP server on stdio", file=sys.stderr, flush=True)
    server.run("stdio")
    return 0
