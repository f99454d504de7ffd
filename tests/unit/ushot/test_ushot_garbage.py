"""Property tests of the UShot readers on hostile input: any bytes into the frame
decoder, and any body under every known command, give events or the protocol's own
`RemoteProtocolError`, never another exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import fuzz_settings

from umsgate.errors import RemoteProtocolError
from umsgate.protocols.ushot import bodies
from umsgate.protocols.ushot.codes import Command
from umsgate.protocols.ushot.frames import Frame, FrameDecoder, encode_frame

SETTINGS = fuzz_settings(150)

#: Bytes that look like UShot fields: digits, spaces, the frame markers, EUC-KR.
_fieldish = st.binary(max_size=400) | st.lists(
    st.sampled_from(
        [b"0", b"1", b"9", b" ", b"\x01", b"\x02", b"\x03", b"\xb0\xa1", b"\xff", b"Y"]
    ),
    max_size=300,
).map(b"".join)


@SETTINGS
@given(data=st.binary(max_size=600), chunk=st.integers(1, 97))
def test_any_bytes_give_frames_or_a_protocol_error(data: bytes, chunk: int) -> None:
    decoder = FrameDecoder(max_body=4096)
    try:
        for i in range(0, len(data), chunk):
            decoder.feed(data[i : i + chunk])
            while (frame := decoder.next_frame()) is not None:
                bodies.decode_frame(frame)
    except RemoteProtocolError:
        return


@SETTINGS
@given(
    command=st.sampled_from(list(Command)),
    version=st.sampled_from(["SAM10", "SAM11"]),
    body=_fieldish,
)
def test_any_body_under_a_known_command_gives_an_event_or_a_protocol_error(
    command: Command, version: str, body: bytes
) -> None:
    frame = Frame(version=version, command=int(command), body=body)
    decoder = FrameDecoder()
    decoder.feed(encode_frame(frame))
    read = decoder.next_frame()
    assert read == frame
    try:
        event = bodies.decode_frame(read)
    except RemoteProtocolError:
        return
    # What was read can be written again, and reads back the same.
    again = FrameDecoder()
    again.feed(bodies.encode_event(event, version))
    decoded = again.next_frame()
    assert decoded is not None
    assert bodies.decode_frame(decoded) == event
