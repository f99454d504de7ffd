"""The session state machine, driven as a client/server pair with no sockets and a
clock that only moves when the test says so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.ushot import bodies, session
from umsgate.protocols.ushot.events import (
    BatchAck,
    Event,
    FileResult,
    FileUpload,
    Login,
    LoginResult,
    MsgKey,
    ResultAck,
    ResultRecord,
    Results,
    SendAck,
    SmsRecord,
    SmsSend,
    UnknownCommand,
)
from umsgate.protocols.ushot.fields import FieldError
from umsgate.protocols.ushot.session import (
    NEED_DATA,
    ConnectionClosed,
    KeepaliveDue,
    Role,
    Session,
    SessionEvent,
    State,
    TimedOut,
    VersionMismatch,
)

RECORD = SmsRecord(grp_id="g", msg_id="1", receiver="01012345678", msg="hi")
RESULT = ResultRecord(
    grp_id="g", msg_id="1", receiver="01012345678", send_dt="", result="6"
)


def state(s: Session) -> State:
    """The session's state, read through a call so that type checkers do not keep
    an earlier narrowing across the calls that change it."""
    return s.state


def logged_in(s: Session) -> bool:
    return s.logged_in


def idle(s: Session) -> bool:
    return s.idle


def drain(s: Session) -> list[SessionEvent]:
    out: list[SessionEvent] = []
    while True:
        event = s.next_event()
        if event is NEED_DATA:
            return out
        assert not isinstance(event, session.NeedData)
        out.append(event)


class Pair:
    """A client and a server session joined by a pretend wire."""

    def __init__(self, version: str = "SAM11", keepalive: float | None = None) -> None:
        self.now = 0.0
        self.client = Session(
            Role.CLIENT, now=0.0, version=version, keepalive=keepalive
        )
        self.server = Session(Role.SERVER, now=0.0)

    def c2s(self, event: Event) -> list[SessionEvent]:
        self.server.receive_data(self.client.send(event, self.now), self.now)
        return drain(self.server)

    def s2c(self, event: Event) -> list[SessionEvent]:
        self.client.receive_data(self.server.send(event, self.now), self.now)
        return drain(self.client)

    def login(self) -> None:
        login = Login(user_id="id", password="pw", version=self.client.version)
        assert self.c2s(login) == [login]
        assert self.server.version == self.client.version
        assert self.s2c(LoginResult(resp_mesg="30|1|")) == [
            LoginResult(resp_mesg="30|1|")
        ]
        assert state(self.client) is state(self.server) is State.READY


def test_login_ok_and_refused() -> None:
    pair = Pair()
    assert not logged_in(pair.client)
    pair.login()
    assert logged_in(pair.client) and logged_in(pair.server)

    refused = Pair()
    refused.c2s(Login(user_id="id", password="bad"))
    refused.s2c(LoginResult(resp_code="11001", resp_mesg="invalid ID or password"))
    assert state(refused.client) is state(refused.server) is State.CLOSED
    assert refused.client.next_deadline() is None


def test_a_request_waits_for_its_answer() -> None:
    pair = Pair()
    pair.login()
    pair.c2s(SmsSend(records=(RECORD,)))
    assert state(pair.client) is State.SEND_SENT
    assert state(pair.server) is State.SEND_RECEIVED
    with pytest.raises(LocalProtocolError):
        pair.client.send(SmsSend(records=(RECORD,)), 0.0)  # one at a time (seed §2-B)
    assert state(pair.client) is State.ERROR


def test_send_answered_in_both_versions() -> None:
    for version, answer in (
        ("SAM11", SendAck(keys=(MsgKey(grp_id="g", msg_id="1"),))),
        ("SAM10", BatchAck()),
    ):
        pair = Pair(version)
        pair.login()
        pair.c2s(SmsSend(records=(RECORD,)))
        assert pair.s2c(answer) == [answer]
        assert state(pair.client) is state(pair.server) is State.READY


def test_file_upload_flow() -> None:
    pair = Pair()
    pair.login()
    pair.c2s(FileUpload(ext="jpg", data=b"\xff\xd8\xff"))
    assert state(pair.server) is State.UPLOAD_RECEIVED
    pair.s2c(FileResult(file_name="abc.jpg"))
    assert state(pair.client) is State.READY


def test_sam10_poll_needs_no_acknowledgement() -> None:
    pair = Pair("SAM10")
    pair.login()
    assert pair.c2s(ResultAck.poll()) == [ResultAck.poll()]
    assert state(pair.server) is State.POLL_RECEIVED
    pair.s2c(Results(records=(RESULT,)))
    assert state(pair.client) is state(pair.server) is State.READY
    pair.c2s(ResultAck.poll())  # asks again at once


def test_sam11_push_needs_an_acknowledgement() -> None:
    pair = Pair("SAM11")
    pair.login()
    pair.s2c(Results(records=(RESULT,)))
    assert state(pair.server) is State.PUSH_SENT
    assert state(pair.client) is State.ACK_OWED
    pair.c2s(ResultAck.acknowledge((RESULT.key,)))
    assert state(pair.client) is state(pair.server) is State.READY


def test_an_owed_acknowledgement_comes_before_anything_else() -> None:
    pair = Pair("SAM11")
    pair.login()
    pair.s2c(Results(records=(RESULT,)))
    with pytest.raises(LocalProtocolError):
        pair.client.send(ResultAck.poll(), 0.0)


def test_sam11_keepalive_crossing_a_push() -> None:
    pair = Pair("SAM11")
    pair.login()
    # Both speak at once: the client's keepalive and the server's push cross.
    poll = pair.client.send(ResultAck.poll(), 0.0)
    push = pair.server.send(Results(records=(RESULT,)), 0.0)
    pair.server.receive_data(poll, 0.0)
    assert drain(pair.server) == [ResultAck.poll()]
    assert state(pair.server) is State.PUSH_SENT_POLL_RECEIVED
    pair.client.receive_data(push, 0.0)
    drain(pair.client)
    assert state(pair.client) is State.ACK_OWED  # the push answers the poll
    pair.s2c(Results())  # the server answers the poll: nothing more
    assert state(pair.server) is State.PUSH_SENT
    assert state(pair.client) is State.ACK_OWED
    pair.c2s(ResultAck.acknowledge((RESULT.key,)))
    assert state(pair.client) is state(pair.server) is State.READY


def test_sam11_keepalive_answered_empty() -> None:
    pair = Pair("SAM11")
    pair.login()
    pair.c2s(ResultAck.poll())
    pair.s2c(Results())
    assert state(pair.client) is state(pair.server) is State.READY


def test_a_server_takes_an_empty_1031_as_a_poll() -> None:
    pair = Pair("SAM10")
    pair.login()
    data = bodies.encode_event(Results(resp_code="", resp_mesg=""), "SAM10")
    pair.server.receive_data(data, 0.0)
    drain(pair.server)
    assert state(pair.server) is State.POLL_RECEIVED


def test_a_frame_off_the_table_is_a_remote_error_and_sticks() -> None:
    pair = Pair()
    pair.login()
    pair.client.receive_data(pair_bytes(SendAck()), 0.0)
    with pytest.raises(RemoteProtocolError) as info:
        pair.client.next_event()
    assert info.value.code == "11001"
    assert "1021" in str(info.value)
    assert state(pair.client) is State.ERROR
    with pytest.raises(RemoteProtocolError):
        pair.client.next_event()
    with pytest.raises(LocalProtocolError):
        pair.client.send(SmsSend(), 0.0)


def pair_bytes(event: Event, version: str = "SAM11") -> bytes:
    return bodies.encode_event(event, version)


def test_a_request_before_login_is_off_the_table() -> None:
    server = Session(Role.SERVER, now=0.0)
    server.receive_data(pair_bytes(SmsSend(records=(RECORD,))), 0.0)
    with pytest.raises(RemoteProtocolError):
        server.next_event()


def test_sending_off_the_table_is_a_local_error() -> None:
    pair = Pair()
    pair.login()
    with pytest.raises(LocalProtocolError):
        pair.client.send(SendAck(), 0.0)
    assert state(pair.client) is State.ERROR


def test_a_value_that_does_not_fit_leaves_the_state_alone() -> None:
    pair = Pair()
    pair.login()
    too_long = SmsRecord(grp_id="g", msg_id="1", receiver="01012345678", msg="x" * 101)
    with pytest.raises(FieldError):
        pair.client.send(SmsSend(records=(too_long,)), 0.0)
    assert state(pair.client) is State.READY


def test_a_client_logs_in_with_its_own_version_only() -> None:
    client = Session(Role.CLIENT, now=0.0, version="SAM10")
    with pytest.raises(LocalProtocolError):
        client.send(Login(user_id="a", password="b", version="SAM11"), 0.0)
    with pytest.raises(ValueError):
        Session(Role.CLIENT, now=0.0, version="SAM12")


def test_unknown_command_from_a_client_is_answered_by_the_server() -> None:
    pair = Pair()
    pair.login()
    pair.server.receive_data(pair_bytes(UnknownCommand(command=1025, body=b"x")), 0.0)
    assert drain(pair.server) == [UnknownCommand(command=1025, body=b"x")]
    assert state(pair.server) is State.READY
    assert not idle(pair.server)  # an answer is owed
    answer = UnknownCommand(command=1025, resp_code="11001", resp_mesg="unknown")
    assert pair.s2c(answer) == [answer]  # the client ignores it, state unchanged
    assert state(pair.client) is State.READY
    assert idle(pair.server)
    with pytest.raises(LocalProtocolError):
        pair.server.send(answer, 0.0)  # nothing owed any more


def test_client_may_not_send_unknown_commands() -> None:
    pair = Pair()
    pair.login()
    with pytest.raises(LocalProtocolError):
        pair.client.send(UnknownCommand(command=1025), 0.0)


def test_keepalive_is_due_after_quiet_seconds_once() -> None:
    pair = Pair(keepalive=30.0)
    pair.login()
    assert pair.client.next_deadline() == 30.0
    pair.client.handle_timeout(29.9)
    assert drain(pair.client) == []
    pair.client.handle_timeout(30.0)
    assert drain(pair.client) == [KeepaliveDue()]
    pair.client.handle_timeout(31.0)
    assert drain(pair.client) == []  # once, until the client sends
    assert pair.client.next_deadline() == 90.0  # idle timeout is next
    pair.now = 31.0
    pair.c2s(SmsSend())
    pair.s2c(SendAck())
    assert pair.client.next_deadline() == 61.0


def test_an_answer_that_does_not_come_times_out() -> None:
    pair = Pair()
    pair.login()
    pair.now = 5.0
    pair.c2s(SmsSend(records=(RECORD,)))
    assert pair.client.next_deadline() == 35.0
    pair.client.handle_timeout(34.0)
    assert drain(pair.client) == []
    pair.client.handle_timeout(35.0)
    (event,) = drain(pair.client)
    assert isinstance(event, TimedOut) and "30 s" in event.reason
    assert state(pair.client) is State.ERROR
    assert pair.client.next_deadline() is None


def test_a_silent_peer_times_out() -> None:
    pair = Pair()
    pair.login()
    assert pair.server.next_deadline() == 90.0
    pair.server.handle_timeout(90.0)
    (event,) = drain(pair.server)
    assert isinstance(event, TimedOut) and "90 s" in event.reason


def test_the_server_waits_for_the_acknowledgement_of_a_push() -> None:
    pair = Pair()
    pair.login()
    pair.now = 10.0
    pair.s2c(Results(records=(RESULT,)))
    assert pair.server.next_deadline() == 40.0


def test_end_of_stream() -> None:
    pair = Pair()
    pair.login()
    pair.client.receive_data(b"", 1.0, reason="reset")
    assert drain(pair.client) == [ConnectionClosed(reason="reset")]
    assert state(pair.client) is State.CLOSED

    half = Pair()
    half.login()
    half.client.receive_data(pair_bytes(Results())[:50], 0.0)
    half.client.receive_data(b"", 0.0)
    with pytest.raises(RemoteProtocolError, match="inside a frame"):
        half.client.next_event()


def test_a_corrupt_frame_fails_the_session() -> None:
    pair = Pair()
    pair.login()
    pair.client.receive_data(b"\x01garbage", 0.0)
    pair.client.receive_data(b"x" * 100, 0.0)
    with pytest.raises(RemoteProtocolError, match="corrupt"):
        pair.client.next_event()
    assert state(pair.client) is State.ERROR


def test_another_version_after_login_is_reported_then_used() -> None:
    pair = Pair("SAM11")
    pair.login()
    pair.c2s(ResultAck.poll())
    pair.client.receive_data(pair_bytes(Results(), "SAM10"), 0.0)
    assert drain(pair.client) == [
        VersionMismatch(expected="SAM11", received="SAM10", command=1031),
        Results(),
    ]
    assert state(pair.client) is State.READY


def test_mermaid_names_every_state_of_each_table() -> None:
    for role in Role:
        text = session.mermaid(role)
        for (src, _, kind), dst in session.TRANSITIONS[role].items():
            assert f"{src.value} --> {dst.value}" in text
            assert kind.value in text


SANS_IO = ["fields", "codes", "frames", "events", "bodies", "session", "msgid"]
FORBIDDEN = {"asyncio", "socket", "selectors", "logging", "time", "threading"}


@pytest.mark.parametrize("module", SANS_IO)
def test_codec_and_session_modules_do_no_io(module: str) -> None:
    path = Path(session.__file__).with_name(f"{module}.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
            if node.module.startswith("umsgate."):
                assert not node.module.startswith(("umsgate.store", "umsgate.engine"))
    assert not imported & FORBIDDEN


def test_a_server_gives_a_new_connection_the_answer_timeout_to_log_in() -> None:
    server = Session(Role.SERVER, now=0.0)
    assert server.next_deadline() == 30.0
    # Bytes of a login that never completes do not extend it.
    login = Session(Role.CLIENT, now=0.0, version="SAM11").send(
        Login(user_id="id", password="pw", version="SAM11"), 0.0
    )
    for i, byte in enumerate(login[:-1]):
        server.receive_data(bytes([byte]), float(i) / 10)
    assert drain(server) == []
    assert server.next_deadline() == 30.0
    server.handle_timeout(30.0)
    (event,) = drain(server)
    assert isinstance(event, TimedOut) and event.reason == "no login within 30 s"
    assert state(server) is State.ERROR


def test_a_login_in_time_ends_the_login_deadline() -> None:
    pair = Pair()
    pair.now = 29.0
    pair.login()
    assert pair.server.next_deadline() == 29.0 + 90.0  # the idle timeout only
    pair.server.handle_timeout(31.0)
    assert drain(pair.server) == []
