"""The gateway process's side of the fronts' socket: each frame's messages go through
the `LocalIntake` (TPS bucket, then the acceptor's group commit) and are answered,
by tag, once committed or refused (see `umsgate.front.wire`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from umsgate.engine.accept import Accepted, Submission
from umsgate.engine.intake import LocalIntake
from umsgate.errors import ValidationError
from umsgate.front import wire

log = logging.getLogger("umsgate.front")


class IntakeServer:
    def __init__(
        self,
        intake: LocalIntake,
        *,
        on_counts: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._intake = intake
        self._on_counts = on_counts
        self._server: asyncio.AbstractServer | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._ready: set[asyncio.StreamWriter] = set()
        #: Answers not yet written, by front: all those of one loop turn go in one
        #: frame (one commit answers the frames of many turns at once, and each
        #: write to a front's socket is a system call that wakes it).
        self._unsent: dict[asyncio.StreamWriter, list[list[Any]]] = {}
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
        if self._answering:
            await asyncio.wait(set(self._answering))
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
                    task = asyncio.create_task(self._answer(items, writer))
                    self._answering.add(task)
                    task.add_done_callback(self._answering.discard)
        finally:
            self._connections.discard(writer)
            self._ready.discard(writer)
            writer.close()

    async def _answer(
        self, items: list[list[Any]], writer: asyncio.StreamWriter
    ) -> None:
        answers: list[list[Any]] = []
        waiting: list[tuple[Any, asyncio.Future[Accepted]]] = []
        for item in items:
            try:
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
            else:
                waiting.append((tag, fut))
        if waiting:
            await asyncio.wait([f for _, f in waiting])
        for tag, fut in waiting:
            error = fut.exception()
            if error is None:
                a = fut.result()
                answers.append([tag, wire.OK, a.id, a.created_at, a.repeated])
            elif isinstance(error, ValidationError):
                answers.append(
                    [tag, wire.REFUSED, error.code, error.message, error.field]
                )
            else:
                answers.append([tag, wire.FAILED, str(error) or type(error).__name__])
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
