"""Property tests: every command survives encode → decode, in any chunking.

Values are drawn as the codec promises to keep them: text that CP949 holds, fits its
field in bytes and has no trailing spaces (padding is indistinguishable from them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from umsgate.protocols.ushot import bodies, events
from umsgate.protocols.ushot.frames import FrameDecoder

T = TypeVar("T")

SETTINGS = settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)

_ALPHABET = st.sampled_from(
    [*"abcXYZ019 -_.:/|~", "\n", "가", "힣", "똠", "안", "녕", "ㄱ", "①", "※", "漢"]
)


def _fit(text: str, width: int) -> str:
    out, used = [], 0
    for ch in text:
        n = len(ch.encode("cp949"))
        if used + n > width:
            break
        out.append(ch)
        used += n
    return "".join(out).rstrip(" \x00")


def text(width: int, *, required: bool = False) -> st.SearchStrategy[str]:
    strategy = st.text(_ALPHABET, max_size=width).map(lambda s: _fit(s, width))
    if required:
        strategy = strategy.filter(bool)
    return strategy


def ascii_text(width: int, *, required: bool = False) -> st.SearchStrategy[str]:
    chars = st.sampled_from(list("abcdefXYZ0123456789"))
    return st.text(chars, min_size=1 if required else 0, max_size=width)


digits = st.text(st.sampled_from("0123456789"), min_size=1, max_size=12)
dates = st.one_of(
    st.just(""),
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)
    ).map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
)
resp_codes = st.sampled_from(["", "00000", "11001", "99999"])
versions = st.sampled_from(["SAM10", "SAM11"])

sms_records = st.builds(
    events.SmsRecord,
    grp_id=text(20, required=True),
    msg_id=text(20, required=True),
    receiver=digits,
    msg=text(100, required=True),
    sender=st.one_of(st.just(""), digits),
    reserve_dt=dates,
    timeout_dt=dates,
    url=text(80),
    usercode=text(30),
)


def lms_records(*, variable: bool) -> st.SearchStrategy[events.LmsRecord]:
    # A variable MSG is exact bytes (no padding), so trailing spaces survive there.
    msg = (
        st.text(_ALPHABET, min_size=1, max_size=300).map(lambda s: _fit(s, 3000))
        if variable
        else text(2000, required=True)
    )
    return st.builds(
        events.LmsRecord,
        grp_id=text(20, required=True),
        msg_id=text(20, required=True),
        receiver=digits,
        msg=msg.filter(bool),
        sender=st.one_of(st.just(""), digits),
        reserve_dt=dates,
        timeout_dt=dates,
        subject=text(120),
        usercode=text(30),
    )


file_names = st.lists(text(128, required=True), max_size=4).map(tuple)
keys = st.lists(
    st.builds(events.MsgKey, grp_id=text(20), msg_id=text(20, required=True)),
    max_size=5,
).map(tuple)


@st.composite
def sends(draw: st.DrawFn) -> events.SendRequest:
    kind = draw(st.sampled_from(["sms", "fixed", "lms", "mms"]))
    legacy = draw(st.booleans())
    if kind == "sms":
        sms = tuple(draw(st.lists(sms_records, max_size=4)))
        if legacy and sms:
            sms = tuple(dataclasses.replace(r, usercode="") for r in sms)
        return events.SmsSend(records=sms, legacy=legacy and bool(sms))
    lms = tuple(draw(st.lists(lms_records(variable=kind != "fixed"), max_size=3)))
    legacy = legacy and bool(lms)
    if legacy:
        lms = tuple(dataclasses.replace(r, usercode="") for r in lms)
    if kind == "fixed":
        return events.FixedSend(records=lms, file_names=draw(file_names), legacy=legacy)
    if kind == "lms":
        return events.LmsSend(records=lms, legacy=legacy)
    return events.MmsSend(records=lms, file_names=draw(file_names), legacy=legacy)


@st.composite
def login_results(draw: st.DrawFn) -> events.LoginResult:
    # Fields are read in order while bytes remain: draw how many are present.
    present = draw(st.integers(0, 7))

    def opt(i: int, strategy: st.SearchStrategy[T]) -> T | None:
        value = draw(strategy)
        return value if i < present else None

    return events.LoginResult(
        resp_code=draw(resp_codes),
        resp_mesg=draw(text(50)),
        fee_type=opt(0, text(2)),
        sms_cost=opt(1, text(6)),
        lms_cost=opt(2, text(6)),
        mms_cost=opt(3, text(6)),
        balance=opt(4, text(8)),
        variable=opt(5, st.booleans()),
        max_msg_size=opt(6, st.integers(0, 9999)),
    )


result_records = st.builds(
    events.ResultRecord,
    grp_id=text(20),
    msg_id=text(20, required=True),
    receiver=digits,
    send_dt=dates,
    result=st.sampled_from(["6", "0", "95", "99", "999", "x"]),
    telecom=text(7),
)

known = {int(c) for c in bodies._DECODERS}

any_event: st.SearchStrategy[events.Event] = st.one_of(
    st.builds(
        events.Login,
        user_id=text(20, required=True),
        password=text(20, required=True),
        version=versions,
        resp_mesg=text(50),
    ),
    login_results(),
    sends(),
    st.builds(events.SendAck, resp_code=resp_codes, resp_mesg=text(50), keys=keys),
    st.builds(events.BatchAck, resp_code=resp_codes, resp_mesg=text(50)),
    st.builds(events.ResultAck, keys=keys, resp_code=resp_codes, resp_mesg=text(50)),
    st.builds(
        events.Results,
        records=st.lists(result_records, max_size=5).map(tuple),
        resp_code=resp_codes,
        resp_mesg=text(50),
    ),
    st.builds(
        events.FileUpload,
        ext=ascii_text(3, required=True),
        data=st.binary(max_size=3000),
    ),
    st.builds(
        events.FileResult,
        resp_code=resp_codes,
        resp_mesg=text(50),
        file_name=text(128),
    ),
    st.builds(
        events.UnknownCommand,
        command=st.integers(0, 99999).filter(lambda c: c not in known),
        resp_code=resp_codes,
        resp_mesg=text(50),
        body=st.binary(max_size=200),
    ),
)


def decode_all(data: bytes, cuts: list[int]) -> list[events.Event]:
    decoder = FrameDecoder()
    out: list[events.Event] = []
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        decoder.feed(data[start:cut])
        start = max(start, cut)
        while (frame := decoder.next_frame()) is not None:
            out.append(bodies.decode_frame(frame))
    assert decoder.buffered == 0
    return out


@SETTINGS
@given(event=any_event, version=versions)
def test_every_event_round_trips(event: events.Event, version: str) -> None:
    data = bodies.encode_event(event, version)
    assert decode_all(data, []) == [event]
    # And the bytes are canonical: encoding the decoded event gives them again.
    assert bodies.encode_event(decode_all(data, [])[0], version) == data


@SETTINGS
@given(
    batch=st.lists(any_event, min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 10**6), max_size=12),
)
def test_streams_of_events_survive_any_chunking(
    batch: list[events.Event], cuts: list[int]
) -> None:
    data = b"".join(bodies.encode_event(e, "SAM11") for e in batch)
    assert decode_all(data, cuts) == batch


@SETTINGS
@given(event=any_event)
def test_byte_at_a_time(event: events.Event) -> None:
    data = bodies.encode_event(event, "SAM10")
    decoder = FrameDecoder()
    got = []
    for i in range(len(data)):
        decoder.feed(data[i : i + 1])
        frame = decoder.next_frame()
        if frame is not None:
            got.append(bodies.decode_frame(frame))
    assert got == [event]
