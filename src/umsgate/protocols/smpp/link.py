"""One ESME bind (transmitter, receiver or transceiver) kept up: connect, bind,
answer enquire_link, send our own when the line is quiet, and reconnect with backoff
whenever the session ends.

Theory of operation
-------------------
`EsmeLink.run` loops: connect (``connect_timeout``), bind (``response_timeout``),
then wait for the session to end, then wait ``reconnect_initial`` doubled per failed
try up to ``reconnect_max`` (±20 % jitter, so a fleet does not reconnect in step).
Waiting for the end has no timeout of its own: the session's enquire_link timer is
the timeout, as a link that stops answering is closed when its enquire_link goes
unanswered for ``response_timeout``.

`request` sends one data request (submit_sm, query_sm) and returns its response. A
permit of the connection's window (``window`` of them) is taken first, so callers
queue in order when the window is full; the response future is always settled, by
the response, by the session's response timer (`ResponseTimeout` → `TimeoutError`),
or by the end of the connection (`LinkDown`). `send_now` is the same send without a
coroutine, for a caller that finds a permit free: it returns the response's future
at once, or None when the window is full (then the caller takes `request`'s way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar

from umsgate.errors import LocalProtocolError, UmsgateError
from umsgate.protocols.ratelimit import MIN_TPS
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import CommandId, status_name
from umsgate.protocols.smpp.connection import Connection
from umsgate.protocols.smpp.options import SmppOptions
from umsgate.protocols.smpp.session import (
    EnquireLinkDue,
    ResponseTimeout,
    Role,
    Session,
    TimerEvent,
)

log = logging.getLogger("umsgate.protocols.smpp")

_P_co = TypeVar("_P_co", bound=pdus.Pdu, covariant=True)


class PduFactory(Protocol[_P_co]):
    """Builds a request once the session gives it its sequence number (in
    practice a `functools.partial` of a PDU class with every other field set)."""

    def __call__(self, *, sequence: int) -> _P_co: ...


BIND_CLASSES: dict[str, type[pdus.Bind]] = {
    "transmitter": pdus.BindTransmitter,
    "receiver": pdus.BindReceiver,
    "transceiver": pdus.BindTransceiver,
}


class LinkDown(UmsgateError, ConnectionError):
    """The link is not bound, or its connection ended before the response came."""


DeliverCallback = Callable[[Connection, pdus.DeliverSm], None]


class Window:
    """The permits of one connection's window; callers that find none free queue in
    order, and a permit given back goes to the first of them.

    Ours rather than `asyncio.Semaphore` for `try_take`: a submit that finds a permit
    free sends at once, with no coroutine and no task of its own, and at thousands of
    submits a second a task per message costs the connector process about as much
    as the rest of its submit.
    """

    __slots__ = ("_waiters", "free")

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self.free <= 0 or bool(self._waiters)

    def try_take(self) -> bool:
        """Take a permit if one is free and nobody waits for one."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a permit as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the permit goes to it, not back to `free`
                return
        self.free += 1


class _Bound:
    """What one connection holds while it lives."""

    def __init__(self, connection: Connection, window: int) -> None:
        self.connection = connection
        self.window = Window(window)
        self.pending: dict[int, asyncio.Future[pdus.Response]] = {}
        self.bound = False


class EsmeLink:
    """Keeps one bind of ``kind`` ("transmitter", "receiver" or "transceiver") up.

    Args:
        name: the connector's name (log lines, ``route`` in their extra).
        on_deliver: called for each deliver_sm; it must answer it (deliver_sm_resp)
            on the connection it gets, now or later.
    """

    def __init__(
        self, name: str, options: SmppOptions, kind: str, *, on_deliver: DeliverCallback
    ) -> None:
        self.name = name
        self.options = options
        self.kind = kind
        self.on_deliver = on_deliver
        self.last_error = "not connected yet"
        #: Set while bound.
        self.up = asyncio.Event()
        #: Set once the first connect-and-bind try ended, either way.
        self.tried = asyncio.Event()
        self._current: _Bound | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(
            self.run(), name=f"smpp-link:{self.name}:{self.kind}"
        )

    async def stop(self, grace: float) -> None:
        """Unbind (waiting up to ``grace`` seconds for unbind_resp), close, stop."""
        self._stop.set()
        current = self._current
        if current is not None and current.bound and current.connection.alive:
            connection = current.connection
            try:
                connection.send(
                    pdus.Unbind(sequence=connection.session.next_sequence())
                )
                await asyncio.wait_for(connection.done.wait(), grace)
            except (TimeoutError, ConnectionError, LocalProtocolError):
                pass
            connection.close("connector stopped")
        if self._task is not None:
            self._task.cancel()
            try:
                await asyncio.wait_for(self._task, grace)
            except (asyncio.CancelledError, TimeoutError):
                pass
            self._task = None
        # A connection still binding when the loop was cancelled.
        if self._current is not None:
            self._current.connection.close("connector stopped")

    @property
    def bound(self) -> bool:
        current = self._current
        return current is not None and current.bound and current.connection.alive

    @property
    def in_flight(self) -> int:
        current = self._current
        return current.connection.session.in_flight if current is not None else 0

    async def run(self) -> None:
        options = self.options
        failures = 0
        while not self._stop.is_set():
            bound = await self._connect_and_bind()
            self.tried.set()
            if bound is not None:
                failures = 0
                self.up.set()
                await bound.connection.done.wait()
                self.up.clear()
            else:
                failures += 1
            if self._stop.is_set():
                break
            delay = min(
                options.reconnect_max,
                options.reconnect_initial * 2 ** max(0, failures - 1),
            )
            delay *= random.uniform(0.8, 1.2)
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass

    async def _connect_and_bind(self) -> _Bound | None:
        options = self.options
        where = f"{options.host}:{options.port}"
        try:
            _, connection = await asyncio.wait_for(
                self._loop.create_connection(
                    self._new_connection, options.host, options.port
                ),
                options.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            self._note_failure(
                f"cannot connect to {where}: {exc or type(exc).__name__}"
            )
            return None
        assert isinstance(connection, Connection)
        current = _Bound(connection, options.window)
        self._current = current
        session = connection.session
        bind = BIND_CLASSES[self.kind](
            sequence=session.next_sequence(),
            system_id=options.system_id,
            password=options.password,
            system_type=options.system_type,
        )
        future: asyncio.Future[pdus.Response] = self._loop.create_future()
        current.pending[bind.sequence] = future
        try:
            connection.send(bind)
            # The session's response timer settles the future; this is a backstop.
            resp = await asyncio.wait_for(future, options.response_timeout * 2)
        except (TimeoutError, ConnectionError) as exc:
            connection.close("bind failed")
            self._note_failure(f"bind to {where} got no response: {exc or 'timed out'}")
            return None
        if not resp.ok:
            connection.close("bind refused")
            self._note_failure(
                f"bind to {where} as {options.system_id!r} refused: "
                f"{status_name(resp.status)}"
            )
            return None
        current.bound = True
        self.last_error = ""
        log.info(
            "%s: bound %s to %s as %r",
            self.name,
            self.kind,
            where,
            options.system_id,
            extra={"event": "smpp.bound", "route": self.name},
        )
        return current

    def _note_failure(self, why: str) -> None:
        self.last_error = why
        log.warning(
            "%s: %s",
            self.name,
            why,
            extra={"event": "smpp.bind_failed", "route": self.name},
        )

    def _new_connection(self) -> Connection:
        options = self.options
        session = Session(
            Role.ESME,
            now=self._loop.time(),
            window=options.window,
            # Receipts beyond the window wait in the socket, not refused: an SMSC
            # that never sends a refused receipt again would lose the report.
            peer_window=options.receipt_window,
            refuse_over_window=False,
            response_timeout=options.response_timeout,
            enquire_link_interval=options.enquire_link_interval,
        )
        return Connection(
            session,
            self,
            close_on_invalid=True,
            name=f"{self.name}:{self.kind}",
            hold_when_full=True,
        )

    # ------------------------------------------------------------ requests

    async def request(
        self,
        make: PduFactory[pdus.Pdu],
        pace: Callable[[float], float] | None = None,
    ) -> pdus.Response:
        """Send the data request ``make(sequence=...)`` builds; its response.

        Args:
            pace: called with the loop time once a window permit is held; returns
                the seconds to wait before sending (the route's rate limit). Pacing
                inside the window keeps at most ``window`` requests holding send
                slots, so a rate that recovers speeds up the queue at once.

        Raises:
            LinkDown: not bound, or the connection ended first.
            TimeoutError: no response within ``response_timeout``.
            LocalProtocolError: the PDU does not fit SMPP (a field too long).
        """
        current = self._current
        if current is None or not current.bound or not current.connection.alive:
            raise LinkDown(self.last_error or "not bound")
        window = current.window
        if window.locked():
            # Every permit comes back after its pacing wait (at most window / MIN_TPS
            # in all) and its response, timeout or the end of the connection.
            o = self.options
            async with asyncio.timeout(2 * o.response_timeout + o.window / MIN_TPS):
                await window.take()
        else:
            await window.take()
        try:
            if pace is not None:
                wait = pace(self._loop.time())
                if wait > 0:
                    await asyncio.sleep(wait)
            connection = current.connection
            if not connection.alive or not connection.session.bound:
                raise LinkDown("the session ended while waiting for the window")
            pdu = make(sequence=connection.session.next_sequence())
            future: asyncio.Future[pdus.Response] = self._loop.create_future()
            current.pending[pdu.sequence] = future
            try:
                connection.send(pdu)
            except BaseException:
                del current.pending[pdu.sequence]
                raise
            return await future
        finally:
            window.release()

    def send_now(
        self,
        make: PduFactory[pdus.Pdu],
        pace: Callable[[float], float] | None = None,
    ) -> asyncio.Future[pdus.Response] | None:
        """`request` without a coroutine, when a window permit is free and nobody
        waits for one: the response's future, settled as `request`'s (its
        exceptions included: `LinkDown`, `TimeoutError`, `LocalProtocolError`), the
        permit given back when it settles. None when the link is not bound or the
        window is full: the caller then takes `request`'s way, which waits or raises.
        """
        current = self._current
        if current is None or not current.bound or not current.connection.alive:
            return None
        window = current.window
        if not window.try_take():
            return None
        loop = self._loop
        future: asyncio.Future[pdus.Response] = loop.create_future()
        future.add_done_callback(lambda _: window.release())
        wait = pace(loop.time()) if pace is not None else 0.0
        if wait > 0:
            loop.call_later(wait, self._send_into, current, make, future)
        else:
            self._send_into(current, make, future)
        return future

    @staticmethod
    def _send_into(
        current: _Bound,
        make: PduFactory[pdus.Pdu],
        future: asyncio.Future[pdus.Response],
    ) -> None:
        if future.done():
            return  # cancelled while it waited for its pacing slot
        connection = current.connection
        if not connection.alive or not connection.session.bound:
            future.set_exception(
                LinkDown("the session ended while waiting for the window")
            )
            return
        sequence = None
        try:
            pdu = make(sequence=connection.session.next_sequence())
            sequence = pdu.sequence
            current.pending[sequence] = future
            connection.send(pdu)
        except Exception as exc:
            if sequence is not None:
                current.pending.pop(sequence, None)
            if not future.done():
                future.set_exception(exc)

    # ------------------------------------------------------------ Handler

    def pdu_received(self, connection: Connection, pdu: pdus.Pdu) -> None:
        current = self._current
        if isinstance(pdu, pdus.Response):
            if pdu.command_id == CommandId.UNBIND_RESP:
                connection.close("unbound")
                return
            if current is not None and current.connection is connection:
                future = current.pending.pop(pdu.sequence, None)
                if future is not None and not future.done():
                    future.set_result(pdu)
            return
        command_id = pdu.command_id
        if command_id == CommandId.DELIVER_SM:
            assert isinstance(pdu, pdus.DeliverSm)
            self.on_deliver(connection, pdu)
        elif command_id == CommandId.ENQUIRE_LINK:
            connection.send(pdus.EnquireLinkResp(sequence=pdu.sequence))
        elif command_id == CommandId.UNBIND:
            connection.send(pdus.UnbindResp(sequence=pdu.sequence))
            connection.close("unbound by the SMSC")
        else:
            # outbind on an open session: nothing to do, we bind by ourselves.
            log.info(
                "%s: ignored %s from the SMSC",
                self.name,
                type(pdu).__name__,
                extra={"event": "smpp.ignored", "route": self.name},
            )

    def timer(self, connection: Connection, event: TimerEvent) -> None:
        if isinstance(event, EnquireLinkDue):
            connection.send(
                pdus.EnquireLink(sequence=connection.session.next_sequence())
            )
            return
        assert isinstance(event, ResponseTimeout)
        if event.command_id == CommandId.ENQUIRE_LINK:
            log.warning(
                "%s: enquire_link unanswered for %.1f s; closing the session",
                self.name,
                self.options.response_timeout,
                extra={"event": "smpp.link_dead", "route": self.name},
            )
            connection.close("enquire_link unanswered")
            return
        current = self._current
        if current is not None and current.connection is connection:
            future = current.pending.pop(event.sequence, None)
            if future is not None and not future.done():
                future.set_exception(
                    TimeoutError(
                        f"no {CommandId(event.command_id).name.lower()}_resp within "
                        f"{self.options.response_timeout} s"
                    )
                )

    def writable(self, connection: Connection) -> None:
        pass  # submits wait on the window, which the SMSC's answers refill

    def closed(self, connection: Connection, reason: str) -> None:
        current = self._current
        if current is None or current.connection is not connection:
            return
        was_bound = current.bound
        current.bound = False
        pending, current.pending = current.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(LinkDown(f"the session ended: {reason}"))
        if was_bound:
            self.last_error = f"session ended: {reason}"
            log.info(
                "%s: %s session ended (%s); %d requests outstanding become retries",
                self.name,
                self.kind,
                reason,
                len(pending),
                extra={"event": "smpp.session_closed", "route": self.name},
            )
