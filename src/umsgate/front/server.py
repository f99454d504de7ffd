"""The gateway process's side of the fronts' socket: each frame's messages go through
the `LocalIntake` (TPS bucket, then the acceptor's group commit) and are answered,
by tag, once committed or refused (see `umsgate.front.wire`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Callable

from umsgate.engine.accept import Accepted, Submission
from umsgate.engine.intake import LocalIntake
from umsgate.errors import ValidationError
from umsgate.front import wire
from umsgate.metrics import FrontCounts

log = logging.getLogger("umsgate.front")


class IntakeServer:
    def __init__(
        self,
        intake: LocalIntake,
        *,
        on_counts: Callable[[FrontCounts], None] | None = None,
    ) -> None:
        self._intake = intake
        self._on_counts = on_counts
        self._server: asyncio.AbstractServer | None = None
        #: Commits the fronts' messages wait for.
        self._waiting: set[asyncio.Future[Accepted]] = set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._ready: set[asyncio.StreamWriter] = set()
        #: Answers not yet written, by front: all those of one loop turn go in one
        #: frame (one commit answers the frames of many turns at once, and each
        #: write to a front's socket is a system call that wakes it).
        self._unsent: dict[asyncio.StreamWriter, list[list[object]]] = {}
        self._flush_scheduled = False
        #: Messages the fronts handed over since start.
        self.received = 0

    @property
    def connections(self) -> int:
        """Fronts connected now."""
        return len(self._connections)

    @property
    def ready(self) -> int:
        """Fronts connected and listening now."""
        return len(self._ready)

    async def start(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._server = await asyncio.start_unix_server(
            self._serve, path, limit=wire.MAX_FRAME
        )
        os.chmod(path, 0o600)

    async def stop(self) -> None:
        """Stop listening, answer what was received, close the connections."""
        if self._server is not None:
            self._server.close()
        if self._waiting:
            await asyncio.wait(set(self._waiting))
        await asyncio.sleep(0)  # the answers of the last commits are queued
        self._flush()
        for writer in list(self._connections):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    payload = await wire.read_frame(reader)
                except asyncio.IncompleteReadError:
                    return
                except (wire.FrameError, ConnectionError) as exc:
                    log.error(
                        "closing a front's connection: %s",
                        exc,
                        extra={"event": "front_protocol_error"},
                    )
                    return
                if not isinstance(payload, dict):
                    continue
                if payload.get("r"):
                    self._ready.add(writer)
                counts = payload.get("m")
                if counts and self._on_counts is not None:
                    self._on_counts(counts)
                items = payload.get("s")
                if items:
                    self.received += len(items)
                    self._take(items, writer)
        finally:
            self._connections.discard(writer)
            self._ready.discard(writer)
            writer.close()

    def _take(self, items: list[object], writer: asyncio.StreamWriter) -> None:
        """Hand a frame's messages to the intake; each is answered, in this turn's
        frame to its front, as its commit ends (a callback each, not a task per
        frame)."""
        answers: list[list[object]] = []
        for item in items:
            try:
                if not isinstance(item, list):
                    raise TypeError("the message is not a list")
                tag, row, dup_window, tps_key, tps = item
                if not isinstance(row, dict):
                    raise TypeError("the row is not an object")
            except (TypeError, ValueError) as exc:
                log.error(
                    "a front sent a message that is not one: %s",
                    exc,
                    extra={"event": "front_protocol_error"},
                )
                if isinstance(item, list) and item:
                    answers.append([item[0], wire.FAILED, "malformed message"])
                continue
            try:
                fut = self._intake.submit_nowait(
                    Submission(row=row, dup_window=dup_window), tps_key, tps
                )
            except Exception as exc:  # the acceptor is stopping
                answers.append([tag, wire.FAILED, str(exc)])
                continue
            if fut is None:
                answers.append([tag, wire.THROTTLED])
                continue
            self._waiting.add(fut)
            fut.add_done_callback(functools.partial(self._committed, tag, writer))
        if answers:
            self._send(writer, answers)

    def _committed(
        self, tag: object, writer: asyncio.StreamWriter, fut: asyncio.Future[Accepted]
    ) -> None:
        self._waiting.discard(fut)
        answer: list[object]
        if fut.cancelled():
            answer = [tag, wire.FAILED, "cancelled"]
        elif (error := fut.exception()) is None:
            a = fut.result()
            answer = [tag, wire.OK, a.id, a.created_at, a.repeated]
        elif isinstance(error, ValidationError):
            answer = [tag, wire.REFUSED, error.code, error.message, error.field]
        else:
            answer = [tag, wire.FAILED, str(error) or type(error).__name__]
        self._send(writer, [answer])

    def _send(self, writer: asyncio.StreamWriter, answers: list[list[object]]) -> None:
        self._unsent.setdefault(writer, []).extend(answers)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        unsent, self._unsent = self._unsent, {}
        for writer, answers in unsent.items():
            if answers and not writer.is_closing():
                writer.write(wire.frame(answers))
