"""10,000 messages, connector → simulator → receipts, over real TCP: Korean text in
KS C 5601 and in UCS-2, 3-part long messages; every message gets exactly one final
report per part, and every part's report is matched to its message."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from smpp_it import RecordingSink, connector, message

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.smpp import encoding, simulator
from umsgate.types import Outcome, SubmitResult

TOTAL = 10_000
KOREAN = "[알림] 고객님의 주문이 발송되었습니다. 감사합니다."
LONG_GSM = (
    "Your parcel {ref} is on its way; track it at https://t.example/ref - thanks! "
) * 5
LONG_KOREAN = (
    "안녕하세요. 이번 달 명세서를 안내해 드립니다. "
    "자세한 내용은 홈페이지를 참고하세요. "
) * 5
LONG_KOREAN = LONG_KOREAN[:195]


def workload() -> tuple[list[Message], list[Message]]:
    """Messages for the KS C 5601 connector and for the UCS-2 one."""
    ksc: list[Message] = []
    ucs2: list[Message] = []
    for i in range(TOTAL):
        kind = i % 10
        if kind < 3:
            ksc.append(message(i, f"Code {i}: 123456"))
        elif kind < 5:
            ksc.append(message(i, f"{KOREAN} #{i}"))
        elif kind < 7:
            ucs2.append(message(i, f"{KOREAN} #{i}"))
        elif kind < 8:
            ucs2.append(message(i, LONG_GSM[:400]))
        elif kind < 9:
            ksc.append(message(i, LONG_KOREAN))
        else:
            ucs2.append(message(i, LONG_KOREAN))
    return ksc, ucs2


def test_long_texts_take_three_parts() -> None:
    assert len(encoding.split(LONG_GSM[:400], encoding.Encoding.GSM)) == 3
    assert len(encoding.split(LONG_KOREAN, encoding.Encoding.KSC5601)) == 3
    assert len(encoding.split(LONG_KOREAN, encoding.Encoding.UCS2)) == 3


async def test_ten_thousand_messages_one_final_report_per_part() -> None:
    ksc, ucs2 = workload()
    async with simulator.running(
        accounts={"ksc": "pw", "ucs2": "pw"},
        receipt_delay=0.2,
        mix="UNDELIV=0.02,EXPIRED=0.01",
    ) as sim:
        sinks = {"ksc": RecordingSink(), "ucs2": RecordingSink()}
        conns = {
            "ksc": connector(
                sim, "smpp-ksc", system_id="ksc", korean="ksc5601", window=50
            ),
            "ucs2": connector(sim, "smpp-ucs2", system_id="ucs2", window=50),
        }
        for key, conn in conns.items():
            await conn.start(sinks[key])
        try:
            started = time.perf_counter()

            async def run(key: str, messages: list[Message]) -> list[SubmitResult]:
                out: list[SubmitResult] = []
                for start in range(0, len(messages), 500):  # dispatcher-sized batches
                    out.extend(await conns[key].submit(messages[start : start + 500]))
                return out

            res_ksc, res_ucs2 = await asyncio.gather(run("ksc", ksc), run("ucs2", ucs2))
            submitted = time.perf_counter()
            results = {r.message_id: r for r in [*res_ksc, *res_ucs2]}
            assert {r.outcome for r in results.values()} == {Outcome.ACCEPTED}
            expected = {
                key: sum(len(results[m.id].segment_ids) for m in msgs)
                for key, msgs in (("ksc", ksc), ("ucs2", ucs2))
            }
            await asyncio.gather(
                *(sinks[key].wait_count(expected[key], within=60) for key in sinks)
            )
            done = time.perf_counter()
        finally:
            for conn in conns.values():
                await conn.stop()

        elapsed = done - started
        part_count = sum(expected.values())
        print(
            f"\nSMPP throughput: {TOTAL} messages ({part_count} parts) submitted in "
            f"{submitted - started:.2f} s, all receipts in {elapsed:.2f} s: "
            f"{TOTAL / elapsed:.0f} messages/s, {part_count / elapsed:.0f} parts/s "
            "end to end (connector → simulator → receipts, one process)"
        )

        # Exactly one report per part, each for a part of a message we sent, from
        # the connector that sent it.
        records = {s.message_id: s for s in sim.submitted}
        for key, msgs in (("ksc", ksc), ("ucs2", ucs2)):
            reports = sinks[key].by_id()
            assert len(sinks[key].reports) == expected[key]
            assert all(len(r) == 1 for r in reports.values())
            for m in msgs:
                result = results[m.id]
                for part_id in result.segment_ids:
                    [report] = reports[part_id]
                    assert report.connector == conns[key].name
                    assert report.code in (
                        ResultCode.DELIVERED,
                        ResultCode.UNREACHABLE,
                        ResultCode.EXPIRED,
                    )
                # What the simulator got is what the message said.
                parts = [records[pid] for pid in result.segment_ids]
                if len(parts) == 1:
                    assert parts[0].text == m.content
                else:
                    assert len(parts) == 3 and result.segments == 3
                    concats = [p.concat for p in parts]
                    assert [c.seqnum for c in concats if c] == [1, 2, 3]
                    assert len({c.reference for c in concats if c}) == 1
                    assert "".join(p.text for p in parts) == m.content
                codings = {p.pdu.data_coding for p in parts}
                if m.content.isascii():
                    assert codings == {0x00}
                else:
                    assert codings == ({0x0E} if key == "ksc" else {0x08})
        outcomes = Counter(r.code for s in sinks.values() for r in s.reports)
        assert outcomes[ResultCode.UNREACHABLE] > 0 and outcomes[ResultCode.EXPIRED] > 0
        assert sim.stats.receipts_acked == sum(expected.values())
        assert sim.queued_receipts() == 0
