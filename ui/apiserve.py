"""``ancre serve``: the OpenAI-compatible API without the page, on uvicorn, behind the same
Host check and credentials as ``ancre chat``; and the mounts that ``ancre chat`` puts
before its page (``/v1``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ancre.qa import AnswerSettings

from .openai_api import CAPACITY, Gate, create_api

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .chat import AnswererFactory


def api_routes(
    answerers: AnswererFactory, answers: AnswerSettings, gate: Gate, capacity: int = CAPACITY
) -> tuple[list, Any]:
    """The API's routes and the lifespan they need: ``/v1`` (OpenAI-compatible), and
    ``/mcp`` (MCP over streamable HTTP) where the ``mcp`` package is installed."""
    from starlette.routing import Mount

    routes: list = [Mount("/v1", create_api(answerers, answers, gate=gate, capacity=capacity))]
    from .mcp_server import create_mcp, has_mcp, http_routes

    if not has_mcp():
        return routes, None
    more, lifespan = http_routes(create_mcp(answerers, answers), gate)
    return routes + more, lifespan


def api_app(
    answerers: AnswererFactory,
    answers: AnswerSettings,
    settings: Any,
    gate: Gate,
    capacity: int = CAPACITY,
) -> Starlette:
    """The API alone, as ``ancre serve`` serves it (Host check included): ``settings`` are
    the server's (``serve.ServeSettings``: its host and allowed host names)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from .middleware import HostCheck, allowed_hosts

    routes, lifespan = api_routes(answerers, answers, gate, capacity)
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(
                HostCheck,
                allowed=allowed_hosts(settings.host, settings.allow_host),
                any_address=settings.host in ("0.0.0.0", "::"),
            )
        ],
    )


@dataclass
class Running:
    """A uvicorn server in a thread (``close`` stops it)."""

    url: str
    server: Any
    thread: threading.Thread

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start(app: Any, host: str, port: int) -> Running:
    """Serve ``app`` on ``host:port`` from a thread; returns once it listens (OSError when
    it cannot)."""
    import time

    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"cannot listen on {host}:{port} (in use?); choose another with --port")
        time.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    return Running(f"http://{shown}:{port}", server, thread)
