"""Two small ASGI middlewares around the Gradio app.

``HostCheck`` refuses any request whose ``Host`` header is not a name the server answers
to. Gradio does not check it, so a page from any web site could reach a local chat through
DNS rebinding (its own name made to point at 127.0.0.1). By default only loopback names
and addresses are accepted, plus the address the server is bound to (any address of the
machine when it listens on all of them: rebinding needs a name); ``--allow-host`` adds
names.

``PageLanguage`` puts the page's language (the ``ancre_lang`` cookie, else Accept-Language)
into the page before Gradio's scripts run, so Gradio's own strings and ancre's are in the
same language.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .account import login_head
from .i18n import COOKIE, choose

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SHARE_SUFFIX = ".gradio.live"


def host_name(header: str) -> str:
    """The name of a Host header, without its port (``[::1]:7860`` gives ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a server bound to ``bound`` answers to: loopback names, the bound name
    itself when it is one, and ``extra`` (``--allow-host``)."""
    names = {*LOOPBACK_NAMES, *(h.strip().lower() for h in extra if h.strip())}
    if bound and bound not in ("0.0.0.0", "::"):
        names.add(host_name(bound))
    return frozenset(names)


class HostCheck:
    """Answers 421 to a request for a host name the server does not serve."""

    def __init__(
        self,
        app: ASGIApp,
        allowed: Iterable[str],
        *,
        any_address: bool = False,
        share: bool = False,
    ):
        self.app = app
        self.allowed = frozenset(allowed)
        self.any_address = any_address
        self.share = share

    def accepts(self, header: str) -> bool:
        name = host_name(header)
        if not name:
            return False
        if name in self.allowed or "*" in self.allowed:
            return True
        if is_ip(name) and (self.any_address or ipaddress.ip_address(name).is_loopback):
            return True
        if any(a.startswith("*.") and name.endswith(a[1:]) for a in self.allowed):
            return True
        return self.share and name.endswith(SHARE_SUFFIX)

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            if not self.accepts(headers.get(b"host", b"").decode("latin-1")):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = b"ancre: this server does not answer to that host name (see --allow-host)\n"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 421,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def language_script(lang: str) -> bytes:
    """Sets the page's language before Gradio starts: the cookie (kept for a year) and the
    browser language that Gradio's translations read."""
    value = json.dumps(lang)
    return (
        "<script>(function(){var l=" + value + ";"
        f"document.cookie='{COOKIE}='+l+'; path=/; max-age=31536000; SameSite=Lax';"
        "document.documentElement.lang=l;"
        "try{Object.defineProperty(Navigator.prototype,'language',{get:function(){return l},"
        "configurable:true});Object.defineProperty(Navigator.prototype,'languages',"
        "{get:function(){return [l]},configurable:true});}catch(e){}})();</script>"
    ).encode()


class PageLanguage:
    """Adds ``language_script`` at the top of the page's HTML (``GET /``)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") != "/":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cookies = headers.get(b"cookie", b"").decode("latin-1")
        cookie = next(
            (
                c.split("=", 1)[1].strip()
                for c in cookies.split(";")
                if c.strip().startswith(COOKIE + "=")
            ),
            None,
        )
        lang = choose(cookie, headers.get(b"accept-language", b"").decode("latin-1"))
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            kind = dict(start.get("headers") or []).get(b"content-type", b"")
            if b"text/html" in kind and b"<head>" in body:
                head = language_script(lang) + login_head(lang)
                body = body.replace(b"<head>", b"<head>" + head, 1)
            start["headers"] = [
                (k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"
            ] + [(b"content-length", str(len(body)).encode())]
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
