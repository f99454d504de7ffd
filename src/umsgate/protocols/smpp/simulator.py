"""``umsgate sim smpp``: the fake SMSC in the foreground, and `running` for tests.

The command prints one line as soon as it listens (``listening smpp=HOST:PORT``) and
runs until Ctrl-C or SIGTERM; then it prints what became of its receipts
(``receipts sent N, answered N, refused N, lost N``) and how long the ESMEs took to
answer them (``receipts answered N; answer after p50 … ms, …``), if it sent any.
Every option has an ``UMSGATE_SIM_SMPP_<NAME>`` environment twin. Tests use the
async API instead::

    async with simulator.running(accounts={"esme": "secret"}) as sim:
        ... connect to sim.port, read sim.submitted / sim.stats, flip sim.faults ...

``--record FILE`` appends one JSON line per accepted submit_sm (see `record_line`),
so a test or a user driving the command from outside can see what arrived.

The simulator itself is `smsc.Smsc`; see there for what it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import orjson
import typer

from umsgate.protocols.simoptions import SimOptions
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import CommandStatus
from umsgate.protocols.smpp.smsc import Faults, SimulatorConfig, Smsc, Stats, Submitted

__all__ = [
    "Faults",
    "SimulatorConfig",
    "Smsc",
    "Stats",
    "Submitted",
    "command",
    "parse_account",
    "parse_status",
    "record_line",
    "running",
]


@contextlib.asynccontextmanager
async def running(
    config: SimulatorConfig | None = None, **fields: Any
) -> AsyncIterator[Smsc]:
    """A started simulator on 127.0.0.1 and a free port, closed on exit.

    Args:
        config: the settings; ``fields`` override single ones (``receipt_delay=0``).
    """
    base = config or SimulatorConfig(port=0)
    if fields:
        base = dataclasses.replace(base, **fields)
    smsc = Smsc(base)
    await smsc.start()
    try:
        yield smsc
    finally:
        await smsc.close()


def parse_account(value: str) -> tuple[str, str]:
    """``SYSTEM_ID:PASSWORD`` → the pair (the password may hold ``:``).

    Raises:
        ValueError: no ``:``, or a part longer than its SMPP field (§4.1.1).
    """
    system_id, sep, password = value.partition(":")
    if not sep or not system_id:
        raise ValueError(f"account {value!r} is not SYSTEM_ID:PASSWORD")
    if len(system_id) >= pdus.MAX_SYSTEM_ID:
        raise ValueError(
            f"system_id {system_id!r} is over {pdus.MAX_SYSTEM_ID - 1} characters"
        )
    if len(password) >= pdus.MAX_PASSWORD:
        raise ValueError(
            f"password of {system_id!r} is over {pdus.MAX_PASSWORD - 1} characters"
        )
    return system_id, password


def parse_status(value: str) -> int:
    """A command_status from its name (``RSYSERR``, ``ESME_RSYSERR``) or number
    (``8``, ``0x08``).

    Raises:
        ValueError: neither a known name nor a number in 0..0xFFFFFFFF.
    """
    text = value.strip()
    name = text.upper().removeprefix("ESME_")
    if name in CommandStatus.__members__:
        return int(CommandStatus[name])
    try:
        number = int(text, 0)
    except ValueError:
        raise ValueError(f"{value!r} is not a command_status name or number") from None
    if not 0 <= number <= 0xFFFFFFFF:
        raise ValueError(f"command_status {value!r} is out of range")
    return number


def record_line(part: Submitted, at: float) -> bytes:
    """One accepted part as a JSON line: ``at`` (epoch seconds), ``message_id``,
    ``system_id``, ``source_addr``, ``destination_addr``, ``data_coding``,
    ``esm_class``, ``concat`` (``[reference, total, seqnum]`` from the UDH or the SAR
    TLVs, or null), ``payload`` (whether the text came in message_payload),
    ``text`` (decoded) and the drawn ``outcome``."""
    pdu = part.pdu
    concat = part.concat
    return orjson.dumps(
        {
            "at": at,
            "message_id": part.message_id,
            "system_id": part.system_id,
            "source_addr": pdu.source_addr,
            "destination_addr": pdu.destination_addr,
            "data_coding": pdu.data_coding,
            "esm_class": pdu.esm_class,
            "concat": None
            if concat is None
            else [concat.reference, concat.total, concat.seqnum],
            "payload": pdu.tlvs.message_payload is not None,
            "text": part.text,
            "outcome": part.outcome,
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def _recorder(out: BinaryIO) -> Callable[[Submitted], None]:
    def write(part: Submitted) -> None:
        out.write(record_line(part, time.time()))
        out.flush()  # readers poll the file while the simulator runs

    return write


_option = SimOptions("SMPP")


def command(
    host: Annotated[str, _option.host()] = "127.0.0.1",
    port: Annotated[
        int, _option("PORT", help="Port to listen on (0: any free port).")
    ] = 2775,
    account: Annotated[
        list[str] | None,
        _option(
            "ACCOUNT",
            help="SYSTEM_ID:PASSWORD that may bind (repeatable); none: anyone may.",
        ),
    ] = None,
    tps: Annotated[
        float | None,
        _option(
            "TPS", help="Submits per second per system_id; beyond: ESME_RTHROTTLED."
        ),
    ] = None,
    window: Annotated[
        int,
        _option(
            "WINDOW", help="Outstanding submits per session; beyond: ESME_RMSGQFUL."
        ),
    ] = 100,
    receipt_delay: Annotated[
        float,
        _option(
            "RECEIPT_DELAY",
            help="Seconds from submit to receipt; 0: in the same write as the "
            "submit_sm_resp, right behind it (on a transceiver).",
        ),
    ] = 1.0,
    early_receipts: Annotated[
        float,
        _option(
            "EARLY_RECEIPTS",
            help="Share (0..1) of receipts sent at once before their submit_sm_resp "
            "(in the same write on a transceiver), whatever --receipt-delay says.",
        ),
    ] = 0.0,
    receipt_burst: Annotated[
        float,
        _option(
            "RECEIPT_BURST",
            help="Hold receipts and send them together every SECONDS (0: no bursts).",
        ),
    ] = 0.0,
    mix: Annotated[
        str,
        _option(
            "MIX",
            help='Outcome shares, e.g. "UNDELIV=0.05,EXPIRED=0.01"; rest: DELIVRD.',
        ),
    ] = "",
    seed: Annotated[
        int, _option("SEED", help="Seed of the outcome and early-receipt draws.")
    ] = 0,
    receipt_retry: Annotated[
        float,
        _option(
            "RECEIPT_RETRY",
            help="Seconds before an unacknowledged receipt is sent again.",
        ),
    ] = 5.0,
    resend_refused: Annotated[
        bool,
        _option(
            "RESEND_REFUSED",
            "--resend-refused/--no-resend-refused",
            help="Send a receipt refused, timed out or unanswered when its session "
            "ends again; --no-resend-refused: never, it is counted lost.",
        ),
    ] = True,
    receipt_window: Annotated[
        int,
        _option(
            "RECEIPT_WINDOW",
            help="Unacknowledged receipts per session (0: no window, every receipt "
            "at once).",
        ),
    ] = 50,
    enquire_link_interval: Annotated[
        float,
        _option(
            "ENQUIRE_LINK_INTERVAL",
            help="Seconds of silence before the SMSC sends enquire_link (0: never).",
        ),
    ] = 30.0,
    bind_timeout: Annotated[
        float,
        _option(
            "BIND_TIMEOUT",
            help="Seconds a connection may stay without binding before it is "
            "closed (0: for ever).",
        ),
    ] = 10.0,
    max_connections_per_client: Annotated[
        int,
        _option(
            "MAX_CONNECTIONS_PER_CLIENT",
            help="Connections one client address may hold; more are closed at once.",
            min=1,
        ),
    ] = 256,
    drop_after: Annotated[
        int | None,
        _option(
            "DROP_AFTER",
            help="Fault: drop the connection that receives the N-th PDU (once).",
        ),
    ] = None,
    ignore_enquire_link: Annotated[
        bool, _option("IGNORE_ENQUIRE_LINK", help="Fault: never answer enquire_link.")
    ] = False,
    resp_delay: Annotated[
        float, _option("RESP_DELAY", help="Fault: seconds before each submit_sm_resp.")
    ] = 0.0,
    refuse_status: Annotated[
        str | None,
        _option(
            "REFUSE_STATUS",
            help="Fault: answer submit_sm with this command_status (a name such as "
            "RSYSERR or ESME_RSYSERR, or a number such as 0x08) instead of taking it.",
        ),
    ] = None,
    refuse_first: Annotated[
        int | None,
        _option(
            "REFUSE_FIRST",
            help="Fault: refuse only the first N submits (with --refuse-status).",
        ),
    ] = None,
    refuse_for: Annotated[
        float | None,
        _option(
            "REFUSE_FOR",
            help="Fault: refuse submits only for the first SECONDS after start "
            "(with --refuse-status).",
        ),
    ] = None,
    record: Annotated[
        Path | None,
        _option(
            "RECORD", help="Append one JSON line per accepted submit_sm to this file."
        ),
    ] = None,
) -> None:
    """Run a fake SMPP 3.4 SMSC until Ctrl-C or SIGTERM; then print its receipts
    sent, answered, refused and lost, and how long their answers took."""
    try:
        accounts = dict(parse_account(a) for a in account or [])
        config = SimulatorConfig(
            host=host,
            port=port,
            accounts=accounts,
            tps=tps if tps else None,
            window=window,
            receipt_delay=receipt_delay,
            early_receipts=early_receipts,
            receipt_burst=receipt_burst,
            mix=mix,
            seed=seed,
            receipt_retry=receipt_retry,
            resend_refused=resend_refused,
            receipt_window=receipt_window,
            enquire_link_interval=enquire_link_interval or None,
            bind_timeout=bind_timeout or None,
            max_connections_per_client=max_connections_per_client,
        )
        smsc = Smsc(config)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    smsc.faults.drop_after = drop_after
    smsc.faults.ignore_enquire_link = ignore_enquire_link
    smsc.faults.resp_delay = resp_delay
    if refuse_status is not None:
        try:
            smsc.faults.refuse_status = parse_status(refuse_status)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        smsc.faults.refuse_count = refuse_first
        # Counted from when the simulator listens (see _serve).
        smsc.faults.refuse_until = refuse_for
    elif refuse_first is not None or refuse_for is not None:
        raise typer.BadParameter("--refuse-first and --refuse-for need --refuse-status")
    with contextlib.ExitStack() as stack:
        if record is not None:
            try:
                out = stack.enter_context(open(record, "ab"))
            except OSError as exc:
                raise typer.BadParameter(f"--record {record}: {exc}") from None
            smsc.on_submit = _recorder(out)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(smsc))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _serve(smsc: Smsc) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await smsc.start()
    if smsc.faults.refuse_until is not None:
        smsc.faults.refuse_until += loop.time()
    try:
        sys.stdout.write(f"listening smpp={smsc.address}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await smsc.close()
        # The last lines, for whoever reads the output (bench/e2e.py, tests).
        stats = smsc.stats
        lines = [stats.receipt_count_line(), stats.receipt_wait_line()]
        sys.stdout.write("".join(line + "\n" for line in lines if line))
        sys.stdout.flush()


if __name__ == "__main__":
    typer.run(command)
