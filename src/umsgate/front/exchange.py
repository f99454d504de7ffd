"""A request and its answer on a front's connection (`umsgate.front.connection`):
the request's head (`Request`), and the `Exchange` that serves it, which the sends
(`umsgate.front.sends`) and the pass-on (`umsgate.front.passon`) build on.

An exchange answers with `Exchange.answer` (the whole answer in one write), or with
`Exchange.write` and `Exchange.finish` (a streamed answer). What it writes before
the exchanges ahead of it on its connection are done is kept, and written when its
turn comes: answers go out in the order of the requests.
"""

from __future__ import annotations

import http
import urllib.parse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from umsgate.front.connection import Connection

#: Bytes an exchange keeps before it asks its source to stop (a passed-on body
#: waiting for its gateway connection, an answer waiting for the ones before it).
HIGH_WATER = 64 * 1024


def _status_lines() -> dict[int, bytes]:
    return {
        s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("latin-1")
        for s in http.HTTPStatus
    }


STATUS_LINES = _status_lines()


def status_line(status: int, reason: bytes = b"") -> bytes:
    line = STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason or b"Unknown")
    return line


class Request:
    """A request's head."""

    __slots__ = (
        "chunked",
        "content_length",
        "expect_continue",
        "headers",
        "keep_alive",
        "method",
        "path",
        "target",
        "version",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        expect_continue: bool,
        content_length: int | None,
        chunked: bool,
    ) -> None:
        self.method = method
        #: The request target as sent (path and query).
        self.target = target
        path = target.partition(b"?")[0].decode("latin-1")
        #: The path, percent-decoded (as ASGI servers give it).
        self.path = urllib.parse.unquote(path) if "%" in path else path
        self.version = version
        #: (name lower-cased, value), in order, as sent; without the body's framing
        #: (Content-Length, Transfer-Encoding) and Expect, which are fields here.
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.content_length = content_length
        self.chunked = chunked

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    def header(self, name: bytes) -> str | None:
        """The first value of a header (``name`` lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def header_map(self) -> dict[str, str]:
        """Every header, names lower-cased; the last of a repeated one."""
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in self.headers}


class Exchange:
    """One request and its answer. Subclasses serve the request (`on_head`,
    `on_body`, `on_end`, `on_expired`, `on_lost`) and answer with `answer`, or with
    `write` and `finish`."""

    __slots__ = (
        "close_after",
        "complete",
        "conn",
        "done",
        "ended",
        "pending",
        "pending_size",
        "request",
        "started",
    )

    def __init__(self, conn: Connection, request: Request) -> None:
        self.conn = conn
        self.request = request
        #: The request's last byte came.
        self.complete = False
        #: The answer's head was written or queued.
        self.started = False
        #: The answer is complete (written or queued).
        self.ended = False
        #: The connection closes after this answer.
        self.close_after = False
        #: Written, or given up because the connection is gone.
        self.done = False
        #: What this exchange wrote while exchanges before it were not done.
        self.pending: list[bytes] | None = None
        self.pending_size = 0

    # -- what subclasses serve ------------------------------------------------------

    def on_head(self) -> None:
        """The head is complete (the body, if any, follows)."""

    def on_body(self, chunk: bytes) -> None:
        """A piece of the body (de-chunked)."""

    def on_end(self) -> None:
        """The request is complete."""

    def on_expired(self) -> None:
        """The body did not arrive within ``body_timeout``: answer (the connection
        closes after it) or give up."""
        self.answer_plain(408, b"request body not received in time")

    def on_lost(self) -> None:
        """The connection is gone before the answer ended: give up its work."""

    def on_turn(self) -> None:
        """Every exchange before this one is done: it writes to the socket now."""

    def on_write_paused(self) -> None:
        """The client is not reading: stop producing this answer."""

    def on_write_resumed(self) -> None:
        """The client reads again."""

    # -- answering ------------------------------------------------------------------

    def must_close(self) -> bool:
        """Whether the answer starting now must be the connection's last."""
        return (
            not self.complete
            or not self.request.keep_alive
            or self.conn.closing
            or self.close_after
        )

    def answer(self, status: int, content_type: bytes, body: bytes) -> None:
        """The whole answer, in one write."""
        if self.started or self.done:
            return
        conn = self.conn
        close = (
            not self.complete
            or not self.request.keep_alive
            or conn.closing
            or self.close_after
        )
        self.close_after = close
        self.started = self.ended = True
        out = b"%scontent-type: %s\r\ncontent-length: %d\r\ndate: %s\r\n%s\r\n%s" % (
            STATUS_LINES.get(status) or status_line(status),
            content_type,
            len(body),
            conn.listener.date,
            b"connection: close\r\n" if close else b"",
            body,
        )
        if conn.first() is self:
            conn.write(out)
            conn.done(self)
        else:
            self._keep(out)

    def answer_plain(self, status: int, text: bytes) -> None:
        self.answer(status, b"text/plain; charset=utf-8", text)

    def write(self, data: bytes) -> None:
        """Bytes of the answer, in order; an answer's first says ``started``."""
        self.started = True
        if self.done:
            return
        conn = self.conn
        if conn.first() is self:
            conn.write(data)
        else:
            self._keep(data)

    def _keep(self, data: bytes) -> None:
        """Hold ``data`` until the exchanges before this one are done."""
        if self.pending is None:
            self.pending = [data]
        else:
            self.pending.append(data)
        self.pending_size += len(data)

    def finish(self) -> None:
        """The answer is complete."""
        if self.ended:
            return
        self.ended = True
        if self.conn.first() is self:
            self.conn.done(self)

    def held(self) -> bool:
        """Whether this exchange keeps more than `HIGH_WATER` bytes unwritten."""
        return self.pending_size > HIGH_WATER
