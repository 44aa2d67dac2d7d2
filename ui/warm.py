"""The warm answer path: an ``ancre chat`` or ``ancre serve`` answers the one-shot ``ancre ask``
of the same index over a Unix socket that only its user can open, so that a question does
not wait for the models to load.

The socket lives in a folder of mode 0700 (``$XDG_RUNTIME_DIR/ancre``, else
``~/.cache/ancre/run``), is named by a hash of where the index lives, and has mode 0600. The
client connects only to a socket of its own user, of mode 0600, in a folder of mode 0700; the
server answers only peers of its own user. A socket file that nobody serves any more is
removed. The protocol is JSON lines: one request, then ``{"stage": ...}`` lines and one
``{"answer": ...}`` (or ``{"fallback": why}``, ``{"error": why}``)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ancre.index import IndexSettings
    from ancre.qa import Answerer, AnswerSettings

log = logging.getLogger(__name__)

MAX_LINE = 1 << 20
"""Longest request the server reads (a question is at most a few thousand characters)."""
CONNECT_TIMEOUT = 2.0
REQUEST_TIMEOUT = 10.0
ANSWER_TIMEOUT = 600.0
"""How long the client waits for the answer (the server may be answering another one)."""
GENERATOR_FIELDS = ("llm", "llm_model_name", "llm_chat", "n_ctx", "n_threads")
GENERATOR_FIELDS += ("llm_embedding_type",)
"""The ``AnswerSettings`` that choose the loaded generator: the server answers only with
its own; the other fields are per-call options it honours."""
INDEX_FIELDS = ("embed_model", "embed_backend", "embed_precision", "language")
"""The ``IndexSettings`` besides the location that change what a question retrieves."""

MAX_SOCKET_PATH = 100
"""The longest socket path used: an address holds 108 bytes on Linux, 104 on macOS."""

Stat = Callable[[str | os.PathLike], os.stat_result]


def socket_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The folder of the sockets: ``$XDG_RUNTIME_DIR/ancre`` (a tmpfs that only the user
    can read, emptied at logout), else ``~/.cache/ancre/run``."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute():
        return Path(runtime) / "ancre"
    return Path("~/.cache/ancre/run").expanduser()


def location(index_settings: IndexSettings) -> str:
    """Where the index lives, as the same string in every process: a store URI, else the
    resolved directory."""
    return index_settings.store or str(Path(index_settings.index_dir).expanduser().resolve())


def socket_path(index_settings: IndexSettings, env: Mapping[str, str] = os.environ) -> Path:
    """The socket of the warm process of this index; in ``/tmp/ancre-UID`` (mode 0700 too)
    where the usual folder is too deep for a socket's address."""
    digest = hashlib.sha256(location(index_settings).encode("utf-8")).hexdigest()[:20]
    path = socket_dir(env) / f"{digest}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        path = Path(tempfile.gettempdir()) / f"ancre-{os.getuid()}" / path.name
    return path


def unsafe(path: Path, *, lstat: Stat = os.lstat, uid: int | None = None) -> str:
    """Why the socket ``path`` must not be used ('' when it may): it and its folder must be
    this user's, the socket of mode 0600 at most and the folder 0700 at most."""
    uid = os.getuid() if uid is None else uid
    folder, sock = lstat(path.parent), lstat(path)
    if not stat.S_ISDIR(folder.st_mode):
        return f"{path.parent} is not a folder"
    if not stat.S_ISSOCK(sock.st_mode):
        return f"{path} is not a socket"
    for what, st in ((f"the folder {path.parent}", folder), (f"the socket {path}", sock)):
        if st.st_uid != uid:
            return f"{what} belongs to uid {st.st_uid}"
        if st.st_mode & 0o077:
            return f"{what} may be opened by others (mode {stat.S_IMODE(st.st_mode):o})"
    return ""


# ---- the client: `ancre ask`


@dataclass(frozen=True)
class Reply:
    """What the warm process said: the answer as ``Answer.to_dict`` gives it, or None and
    why the question is answered cold ('' when no warm process runs: nothing to say)."""

    answer: dict[str, Any] | None
    note: str = ""


def request(
    question: str,
    settings: AnswerSettings,
    index_settings: IndexSettings,
    filters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The request line for ``question``: the per-call settings, the index's settings that
    the server checks, the filters (``Filters`` fields)."""
    return {
        "question": question,
        "settings": asdict(settings),
        "index": {name: getattr(index_settings, name) for name in INDEX_FIELDS},
        "filters": dict(filters or {}),
    }


def ask_warm(
    question: str,
    settings: AnswerSettings,
    index_settings: IndexSettings,
    filters: dict[str, str] | None = None,
    *,
    path: Path | None = None,
    lstat: Stat = os.lstat,
    uid: int | None = None,
    on_stage: Callable[[str], None] | None = None,
    timeout: float = ANSWER_TIMEOUT,
) -> Reply:
    """Ask the warm process of this index, if one runs. Nothing is opened when no socket
    file exists; a socket that is not this user's alone is refused; a socket file that
    nobody serves is removed. ``lstat`` and ``uid`` replace the system's (tests)."""
    path = path or socket_path(index_settings)
    try:
        why = unsafe(path, lstat=lstat, uid=uid)
        inode = lstat(path).st_ino  # the file found: a stale one is removed only if unchanged
    except FileNotFoundError:
        return Reply(None)
    except OSError as err:
        return Reply(None, f"warm process not used: {path}: {err.strerror or err}")
    if why:
        return Reply(None, f"warm process not used: {why}")
    t0 = time.perf_counter()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(CONNECT_TIMEOUT)
        try:
            conn.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            _remove_stale(path, inode)
            return Reply(None)
        conn.settimeout(timeout)
        line = json.dumps(request(question, settings, index_settings, filters)) + "\n"
        conn.sendall(line.encode("utf-8"))
        for message in _lines(conn):
            if "stage" in message:
                if on_stage is not None:
                    on_stage(str(message["stage"]))
            elif "answer" in message:
                answer = message["answer"]
                answer.setdefault("timings", {})["warm"] = time.perf_counter() - t0
                return Reply(answer)
            elif "fallback" in message:
                return Reply(None, f"{message['fallback']}: answering cold")
            else:
                why = message.get("error")
                return Reply(None, f"the warm process failed ({why}): answering cold")
        return Reply(None, "the warm process closed the connection: answering cold")
    except TimeoutError:
        return Reply(None, f"no answer from the warm process in {timeout:.0f} s: answering cold")
    except (OSError, ValueError) as err:
        return Reply(None, f"the warm process could not be asked ({err}): answering cold")
    finally:
        conn.close()


def _remove_stale(path: Path, inode: int) -> None:
    """A socket file whose process is gone (killed, crashed) answers nobody: removed, unless
    a new server has put its own there meanwhile (another inode)."""
    log.info("removing the stale socket %s", path)
    with suppress(OSError):
        if os.lstat(path).st_ino == inode:
            path.unlink()


def _lines(conn: socket.socket):
    """The JSON messages the peer sends, one per line, until it closes."""
    with conn.makefile("rb") as stream:
        while line := stream.readline(MAX_LINE):
            if not line.endswith(b"\n"):
                raise ValueError("message too long or cut")
            yield json.loads(line)


# ---- the server: in `ancre chat` and `ancre serve`


class WarmServer:
    """Answers ``ancre ask`` of ``index_settings``' index in this process, one question at
    a time on one thread, with the generator of ``settings`` (its other fields are taken
    from each request). ``answerers`` is the process's Answerer factory."""

    def __init__(
        self,
        answerers: Callable[[AnswerSettings], Answerer],
        settings: AnswerSettings,
        index_settings: IndexSettings,
        *,
        path: Path | None = None,
    ):
        self.answerers = answerers
        self.settings = settings
        self.index_settings = index_settings
        self.path = path or socket_path(index_settings)
        self._sock: socket.socket | None = None
        self._inode = 0
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Listen (False, with a logged reason, where another process of this index
        already does or the folder is not this user's alone)."""
        try:
            self._listen()
        except (OSError, ValueError) as err:
            log.warning("`ancre ask` will not use this process: %s", err)
            return False
        self._thread = threading.Thread(target=self._serve, name="ancre-warm", daemon=True)
        self._thread.start()
        return True

    def _listen(self) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(folder, 0o700)
        if self.path.exists() or self.path.is_symlink():
            why = unsafe(self.path)
            if why:
                raise ValueError(why)
            if _alive(self.path):
                raise ValueError(f"another process of this index answers on {self.path}")
            self.path.unlink()
        why = unsafe_folder(folder)
        if why:
            raise ValueError(why)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        self._inode = os.lstat(self.path).st_ino
        self._sock = sock

    def close(self) -> None:
        """Stop listening and remove the socket file (if it is still this server's)."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with suppress(OSError):
            if os.lstat(self.path).st_ino == self._inode:
                self.path.unlink()
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _serve(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            with conn:
                try:
                    self.handle(conn)
                except OSError as err:  # the client went away
                    log.info("warm answer not delivered: %s", err)

    def handle(self, conn: socket.socket) -> None:
        """Answer the one request of ``conn`` (refused unless its peer is this user)."""
        peer = peer_uid(conn)
        if peer is not None and peer != os.getuid():
            log.warning("refused a warm request of uid %s", peer)
            return
        conn.settimeout(REQUEST_TIMEOUT)

        def send(message: dict[str, Any]) -> None:
            conn.sendall((json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8"))

        try:
            message = next(_lines(conn))
            options, why = self.options(message)
        except (StopIteration, ValueError, TypeError, KeyError) as err:
            send({"error": f"bad request: {err}"})
            return
        if why:
            send({"fallback": why})
            return
        conn.settimeout(ANSWER_TIMEOUT)
        from ancre.qa import Filters

        try:
            filters = Filters(**message.get("filters", {}))
            stream = self.answerers(options).stream(message["question"], filters=filters or None)
            for event in stream:
                if event.kind == "stage":
                    send({"stage": event.text})
            send({"answer": stream.answer().to_dict()})
        except OSError:
            raise
        except Exception as err:  # the client answers cold and says why
            log.exception("warm answer failed")
            send({"error": str(err) or type(err).__name__})

    def options(self, message: dict[str, Any]) -> tuple[AnswerSettings, str]:
        """The settings a request asks for, and why they are not this process's to answer
        with ('' when they are): another generator, or the index read otherwise."""
        from ancre.qa import AnswerSettings

        asked = message["settings"]
        known = {f.name for f in fields(AnswerSettings)}
        unknown = set(asked) - known
        if unknown:
            raise ValueError(f"unknown settings {', '.join(sorted(unknown))}")
        options = AnswerSettings(**asked)
        for name in GENERATOR_FIELDS:
            mine, theirs = getattr(self.settings, name), getattr(options, name)
            if mine != theirs:
                return options, f"the warm process answers with {name}={mine!r}, not {theirs!r}"
        for name, theirs in message.get("index", {}).items():
            mine = getattr(self.index_settings, name, None)
            if name in INDEX_FIELDS and mine != theirs:
                return options, f"the warm process reads the index with {name}={mine!r}"
        return options, ""


def unsafe_folder(folder: Path) -> str:
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return f"{folder} must be a folder of this user of mode 0700"
    return ""


def peer_uid(conn: socket.socket) -> int | None:
    """The user id of the process at the other end (Linux; None where unknown)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _alive(path: Path) -> bool:
    """Whether a process listens on the socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(CONNECT_TIMEOUT)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
