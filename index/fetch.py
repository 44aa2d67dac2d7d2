"""Fetching a web page or a feed, politely and within bounds.

One GET per URL with a User-Agent naming ancre, a timeout on connecting and on each read,
a size limit read as the body arrives (a page over it is refused, never held whole), and at
most ``MAX_REDIRECTS`` redirects, each followed by hand so that every address is checked.
With ``public_only`` (the chat server's default), a URL whose host is this machine or its
private network is refused: a chat server must not become a way to read internal URLs.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

from .walk import LoadError

USER_AGENT = "ancre/0.1 (local question answering over news; +https://github.com/ancre)"
MAX_REDIRECTS = 4
SCHEMES = ("http", "https")


class FetchError(LoadError):
    """A URL that cannot be read; the message says why, ``kind`` what kind of refusal it
    is (for a page to say it in its own language)."""

    def __init__(self, message: str, kind: Literal["scheme", "private", "other"] = "other"):
        super().__init__(message)
        self.kind = kind


@dataclass
class Fetched:
    url: str
    """The URL the content came from, after redirects."""
    content: bytes
    content_type: str


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def check_url(url: str, *, public_only: bool) -> None:
    """Refuse a scheme other than http(s) and, with ``public_only``, a host that is, or
    resolves to, an address of this machine, its private network or a reserved range."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise FetchError(
            f"only http:// and https:// addresses are read, not {parts.scheme or 'this'}:",
            "scheme",
        )
    if not parts.hostname:
        raise FetchError("no host in the address")
    if not public_only:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise FetchError(f"unknown host {parts.hostname} ({err})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"{parts.hostname} is an address of this machine or a private network "
                f"({address}): refused (start the server with --allow-private-urls to read it)",
                "private",
            )


def fetch(
    url: str, *, timeout: float = 20.0, max_bytes: int = 5 << 20, public_only: bool = False
) -> Fetched:
    """The content at ``url``; ``FetchError`` says why not."""
    import urllib3

    http = urllib3.PoolManager(
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml,"
            "application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5",
        },
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=False,
    )
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, public_only=public_only)
        try:
            response = http.request("GET", url, redirect=False, preload_content=False)
        except urllib3.exceptions.TimeoutError:
            raise FetchError(f"no answer within {timeout:g} s") from None
        except urllib3.exceptions.HTTPError as err:
            raise FetchError(f"cannot connect ({type(err).__name__}: {err})") from None
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(f"HTTP {response.status} without a Location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchError(f"HTTP {response.status} {response.reason or ''}".strip())
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(_too_big(max_bytes))
            content = bytearray()
            try:
                for block in response.stream(64 * 1024):
                    content += block
                    if len(content) > max_bytes:
                        raise FetchError(_too_big(max_bytes))
            except urllib3.exceptions.TimeoutError:
                raise FetchError(f"no answer within {timeout:g} s") from None
            except urllib3.exceptions.HTTPError as err:
                raise FetchError(f"reading failed ({type(err).__name__})") from None
            return Fetched(url, bytes(content), response.headers.get("Content-Type", ""))
        finally:
            response.release_conn()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _too_big(max_bytes: int) -> str:
    return f"over the {max_bytes / 1e6:g} MB limit of a page (ANCRE_MAX_PAGE_MB)"
