"""The terminal views of ``umsgate messages show`` and ``umsgate messages search``:
Rich tables of a message, its timeline and a page of search results."""

from __future__ import annotations

import datetime as dt

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table

from umsgate.store import lookup


def when(epoch: float | None) -> str:
    """Epoch seconds as UTC to the millisecond ("" for none)."""
    if epoch is None:
        return ""
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def message_table(detail: lookup.MessageDetail) -> Table:
    m = detail.message
    table = Table(title=f"message {m.id}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("client", m.client_id),
        ("srcMsgId", m.src_msg_id),
        ("channel", m.channel),
        ("status", m.status),
        ("sender", m.sender),
        ("receiver", m.receiver),
        ("result", " ".join(filter(None, (m.result_code, m.result_message)))),
        ("provider code", _text(m.raw_code)),
        ("connector", _text(m.connector)),
        ("provider id", _text(m.provider_msg_id)),
        ("attempts", str(m.attempts)),
        ("segments", str(m.segments)),
        ("created", when(m.created_at)),
        ("sent", when(m.sent_at)),
        ("done", when(m.done_at)),
        ("expires", when(m.expires_at)),
        ("fallback of", _text(m.fallback_of)),
        ("fallback to", _text(m.fallback_to)),
    ]
    webhook = detail.webhook
    if webhook is not None:
        state = f"{webhook.state}, {webhook.attempts} tries"
        if webhook.last_error:
            state += f" (last: {webhook.last_error})"
        rows.append(("webhook", state))
    for name, value in rows:
        if value:
            table.add_row(name, value)
    return table


def timeline_table(events: tuple[lookup.EventView, ...]) -> Table:
    table = Table(title="timeline (UTC)", title_justify="left")
    table.add_column("at", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("code", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for e in events:
        step = "webhook" if e.is_webhook else e.status
        table.add_row(when(e.at), step, _text(e.code), e.detail)
    return table


def page_table(page: lookup.Page) -> Table:
    """A page of messages: light borders and folding cells, to read at 80 columns."""
    table = Table(
        title=f"{len(page.messages)} messages, newest first",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("umsMsgId", no_wrap=True)
    for name in ("client", "srcMsgId", "ch", "status", "receiver", "result"):
        table.add_column(name, overflow="fold")
    table.add_column("created (UTC)", overflow="fold")
    for m in page.messages:
        table.add_row(
            str(m.id),
            m.client_id,
            m.src_msg_id,
            m.channel,
            m.status,
            m.receiver,
            " ".join(filter(None, (m.result_code, m.raw_code and f"[{m.raw_code}]"))),
            when(m.created_at),
        )
    return table


def show(console: Console, *parts: RenderableType) -> None:
    console.print(Group(*parts))
