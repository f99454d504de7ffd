"""Body codec: every event of `events` to and from its frame (spec §6).

``encode_event(event, version)`` gives a whole frame; ``decode_frame(frame)`` gives the
event. Decoding is tolerant where the spec says so (§6.9): a server reads send records
with or without USERCODE, a client reads 1011 fields while bytes remain. Everything else
that does not add up (COUNT against LENGTH, a FILE_LENGTH that is not the rest of the
body) is a `RemoteProtocolError` with code ``11001``: the frame is corrupt.
"""

from __future__ import annotations

from collections.abc import Callable

from umsgate.errors import RemoteProtocolError
from umsgate.protocols.ushot import fields
from umsgate.protocols.ushot.codes import Command
from umsgate.protocols.ushot.events import (
    FIXED_MSG_LEN,
    MAX_VARIABLE_MSG,
    BatchAck,
    Event,
    FileResult,
    FileUpload,
    FixedSend,
    LmsRecord,
    LmsSend,
    Login,
    LoginResult,
    MmsSend,
    MsgKey,
    ResultAck,
    ResultRecord,
    Results,
    SendAck,
    SmsRecord,
    SmsSend,
    UnknownCommand,
)
from umsgate.protocols.ushot.fields import (
    FRAME_ERROR,
    FieldError,
    decode_loose,
    decode_number,
    decode_text,
    encode_exact,
    encode_number,
    encode_text,
)
from umsgate.protocols.ushot.frames import Frame, encode_frame

# Field widths (spec §6). ------------------------------------------------------------
ID_LEN = 20  # ID, PASSWORD, GRP_ID, MSG_ID, RESERVE_DT, TIMEOUT_DT, SEND_DT
PHONE_LEN = 12  # SENDER, RECEIVER
SMS_MSG_LEN = 100
URL_LEN = 80
USERCODE_LEN = 30
SUBJECT_LEN = 120
COUNT_LEN = 4
MSG_LEN_LEN = 4
FILE_NAME_LEN = 128
#: FILE_NAME1..4 (seed: "4 allowed, at most 3 recommended").
MAX_FILES = 4
FILE_NAMES_LEN = FILE_NAME_LEN * MAX_FILES
RESULT_LEN = 3
TELECOM_LEN = 7
FILE_LENGTH_LEN = 10
FILE_EXT_LEN = 3
#: Largest COUNT the 4-digit field holds; servers bind it lower at login.
MAX_COUNT = 9999

_SMS_HEAD = 2 * ID_LEN + 2 * PHONE_LEN + 2 * ID_LEN  # GRP_ID .. TIMEOUT_DT: 104
SMS_RECORD_LEN = _SMS_HEAD + SMS_MSG_LEN + URL_LEN + USERCODE_LEN  # 314
SMS_RECORD_LEN_LEGACY = SMS_RECORD_LEN - USERCODE_LEN  # 284
_LMS_HEAD = _SMS_HEAD + SUBJECT_LEN  # GRP_ID .. SUBJECT: 224
FIXED_RECORD_LEN = _LMS_HEAD + FIXED_MSG_LEN + USERCODE_LEN  # 2254
FIXED_RECORD_LEN_LEGACY = FIXED_RECORD_LEN - USERCODE_LEN  # 2224
KEY_LEN = 2 * ID_LEN  # 40
RESULT_RECORD_LEN = 2 * ID_LEN + PHONE_LEN + ID_LEN + RESULT_LEN + TELECOM_LEN  # 82
LOGIN_LEN = 2 * ID_LEN
#: 1011 fields in order with their widths (33 bytes in all).
LOGIN_RESULT_FIELDS = (
    ("FEE_TYPE", 2),
    ("SMS_COST", 6),
    ("LMS_COST", 6),
    ("MMS_COST", 6),
    ("BALANCE", 8),
    ("VARIABLE_YN", 1),
    ("MAX_MSG_SIZE", 4),
)
FILE_RESULT_LEN = FILE_NAME_LEN

_BLANK_NAMES = b" " * FILE_NAMES_LEN


def _corrupt(command: int, why: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"corrupt {command} body: {why}", code=FRAME_ERROR)


def _required(value: str, field: str) -> None:
    if not value:
        raise FieldError(f"{field} is required", field=field)


def _date(value: str, field: str) -> bytes:
    if value:
        try:
            fields.parse_date(value)
        except ValueError:
            raise FieldError(
                f"{field} {value!r} is not YYYY-MM-DD HH:MM:SS", field=field
            ) from None
    return encode_text(value, ID_LEN, field)


def _head(record: SmsRecord | LmsRecord) -> list[bytes]:
    """The fields every record starts with; MSG is required too."""
    _required(record.msg, "MSG")
    _required(record.grp_id, "GRP_ID")
    _required(record.msg_id, "MSG_ID")
    _required(record.receiver, "RECEIVER")
    return [
        encode_text(record.grp_id, ID_LEN, "GRP_ID"),
        encode_text(record.msg_id, ID_LEN, "MSG_ID"),
        encode_text(record.sender, PHONE_LEN, "SENDER"),
        encode_text(record.receiver, PHONE_LEN, "RECEIVER"),
        _date(record.reserve_dt, "RESERVE_DT"),
        _date(record.timeout_dt, "TIMEOUT_DT"),
    ]


# Records. -----------------------------------------------------------------------------


def encode_sms_record(record: SmsRecord, *, legacy: bool = False) -> bytes:
    """One 1020 record (314 bytes; 284 in the legacy layout).

    Raises:
        FieldError: naming the field that does not fit or is missing.
    """
    parts = _head(record)
    parts.append(encode_text(record.msg, SMS_MSG_LEN, "MSG", content=True))
    parts.append(encode_text(record.url, URL_LEN, "URL"))
    if not legacy:
        parts.append(encode_text(record.usercode, USERCODE_LEN, "USERCODE"))
    return b"".join(parts)


def encode_lms_record(
    record: LmsRecord, *, variable: bool, legacy: bool = False
) -> bytes:
    """One 1024 record (``variable`` False: 2254 bytes, 2224 legacy) or one 1044/1045
    record (258 + MSG_LEN bytes, 30 fewer legacy).

    Raises:
        FieldError: naming the field that does not fit or is missing.
    """
    parts = _head(record)
    parts.append(encode_text(record.subject, SUBJECT_LEN, "SUBJECT", content=True))
    if variable:
        msg = encode_exact(record.msg, "MSG")
        if len(msg) > MAX_VARIABLE_MSG:
            raise FieldError(
                f"MSG is {len(msg)} bytes in {fields.CHARSET}; at most "
                f"{MAX_VARIABLE_MSG} are allowed",
                field="MSG",
                code=fields.SIZE_ERROR,
            )
        parts.insert(0, encode_number(len(msg), MSG_LEN_LEN, "MSG_LEN"))
        parts.append(msg)
    else:
        parts.append(encode_text(record.msg, FIXED_MSG_LEN, "MSG", content=True))
    if not legacy:
        parts.append(encode_text(record.usercode, USERCODE_LEN, "USERCODE"))
    return b"".join(parts)


def _encode_names(names: tuple[str, ...]) -> bytes:
    if len(names) > MAX_FILES:
        raise FieldError(f"{len(names)} files; at most {MAX_FILES}", field="FILE_NAME")
    return b"".join(
        encode_text(
            names[i] if i < len(names) else "", FILE_NAME_LEN, f"FILE_NAME{i + 1}"
        )
        for i in range(MAX_FILES)
    )


def _count(n: int) -> bytes:
    if n > MAX_COUNT:
        raise FieldError(f"COUNT {n} is over {MAX_COUNT}", field="COUNT")
    return encode_number(n, COUNT_LEN, "COUNT")


def _keys(keys: tuple[MsgKey, ...]) -> bytes:
    out = [_count(len(keys))]
    for key in keys:
        out.append(encode_text(key.grp_id, ID_LEN, "GRP_ID"))
        out.append(encode_text(key.msg_id, ID_LEN, "MSG_ID"))
    return b"".join(out)


def _result_record(r: ResultRecord) -> bytes:
    return b"".join(
        (
            encode_text(r.grp_id, ID_LEN, "GRP_ID"),
            encode_text(r.msg_id, ID_LEN, "MSG_ID"),
            encode_text(r.receiver, PHONE_LEN, "RECEIVER"),
            encode_text(r.send_dt, ID_LEN, "SEND_DT"),
            encode_text(r.result, RESULT_LEN, "RESULT"),
            encode_text(r.telecom, TELECOM_LEN, "TELECOM"),
        )
    )


def _login_result_body(e: LoginResult) -> bytes:
    values = (
        e.fee_type,
        e.sms_cost,
        e.lms_cost,
        e.mms_cost,
        e.balance,
        None if e.variable is None else ("Y" if e.variable else "N"),
        None if e.max_msg_size is None else str(e.max_msg_size),
    )
    out: list[bytes] = []
    for (name, width), value in zip(LOGIN_RESULT_FIELDS, values, strict=True):
        if value is None:
            break
        out.append(encode_text(value, width, name))
    if len(out) < len(values) and any(v is not None for v in values[len(out) :]):
        missing = LOGIN_RESULT_FIELDS[len(out)][0]
        raise FieldError(
            f"1011 fields are read in order: {missing} is missing, a later one set",
            field=missing,
        )
    return b"".join(out)


# Events to frames. --------------------------------------------------------------------


def encode_event(event: Event, version: str) -> bytes:
    """The whole frame of ``event`` in a session of ``version``.

    Raises:
        FieldError: a value does not fit its field (naming the field).
    """
    command = command_of(event)
    resp_code = ""
    resp_mesg = ""
    if isinstance(event, _ANSWERS):
        resp_code, resp_mesg = event.resp_code, event.resp_mesg
    match event:
        case Login():
            _required(event.user_id, "ID")
            _required(event.password, "PASSWORD")
            version = event.version
            resp_mesg = event.resp_mesg
            body = encode_text(event.user_id, ID_LEN, "ID") + encode_text(
                event.password, ID_LEN, "PASSWORD"
            )
        case LoginResult():
            body = _login_result_body(event)
        case SmsSend():
            body = _count(len(event.records)) + b"".join(
                encode_sms_record(r, legacy=event.legacy) for r in event.records
            )
        case FixedSend() | LmsSend() | MmsSend():
            names = b""
            if not isinstance(event, LmsSend):
                names = _encode_names(event.file_names)
            variable = not isinstance(event, FixedSend)
            body = (
                _count(len(event.records))
                + names
                + b"".join(
                    encode_lms_record(r, variable=variable, legacy=event.legacy)
                    for r in event.records
                )
            )
        case SendAck() | ResultAck():
            body = _keys(event.keys)
        case BatchAck():
            body = b""
        case Results():
            body = _count(len(event.records)) + b"".join(
                _result_record(r) for r in event.records
            )
        case FileUpload():
            ext = event.ext
            _required(ext, "FILE_EXT")
            if not ext.isascii():
                raise FieldError(f"FILE_EXT {ext!r} is not ASCII", field="FILE_EXT")
            body = b"".join(
                (
                    encode_number(len(event.data), FILE_LENGTH_LEN, "FILE_LENGTH"),
                    encode_text(ext, FILE_EXT_LEN, "FILE_EXT"),
                    event.data,
                )
            )
        case FileResult():
            body = encode_text(event.file_name, FILE_NAME_LEN, "FILE_NAME")
        case UnknownCommand():
            body = event.body
    return encode_frame(
        Frame(
            version=version,
            command=command,
            resp_code=resp_code,
            resp_mesg=resp_mesg,
            body=body,
        )
    )


def command_of(event: Event) -> int:
    """The command number ``event`` is sent with."""
    if isinstance(event, UnknownCommand):
        return event.command
    return _COMMANDS[type(event)]


#: The events whose frame carries their own RESP_CODE and RESP_MESG.
_ANSWERS = (
    LoginResult,
    SendAck,
    BatchAck,
    ResultAck,
    Results,
    FileResult,
    UnknownCommand,
)

_COMMANDS: dict[type, Command] = {
    Login: Command.LOGIN,
    LoginResult: Command.LOGIN_RESULT,
    SmsSend: Command.SMS_SEND,
    FixedSend: Command.FIXED_SEND,
    LmsSend: Command.LMS_SEND,
    MmsSend: Command.MMS_SEND,
    SendAck: Command.SEND_ACK,
    BatchAck: Command.BATCH_ACK,
    ResultAck: Command.RESULT_ACK,
    Results: Command.RESULTS,
    FileUpload: Command.FILE_UPLOAD,
    FileResult: Command.FILE_RESULT,
}


# Frames to events. --------------------------------------------------------------------


def decode_frame(frame: Frame) -> Event:
    """The event a frame carries; an undefined command gives `UnknownCommand`.

    Raises:
        RemoteProtocolError: the body does not match its command (code ``11001``).
    """
    decoder = _DECODERS.get(frame.command)
    if decoder is None:
        return UnknownCommand(
            command=frame.command,
            resp_code=frame.resp_code,
            resp_mesg=frame.resp_mesg,
            body=frame.body,
        )
    return decoder(frame)


def _login(f: Frame) -> Login:
    if len(f.body) != LOGIN_LEN:
        raise _corrupt(f.command, f"LENGTH {len(f.body)}, expected {LOGIN_LEN}")
    return Login(
        user_id=decode_text(f.body[:ID_LEN], "ID"),
        password=decode_text(f.body[ID_LEN:], "PASSWORD"),
        version=f.version,
        resp_mesg=f.resp_mesg,
    )


def _login_result(f: Frame) -> LoginResult:
    values: list[str] = []
    pos = 0
    for name, width in LOGIN_RESULT_FIELDS:
        if pos + width > len(f.body):
            break  # spec §6.9: a field that does not fit is absent
        values.append(decode_text(f.body[pos : pos + width], name))
        pos += width
    got = len(values)

    def at(i: int) -> str | None:
        return values[i] if i < got else None

    variable: bool | None = None
    yn = at(5)
    if yn is not None:
        if yn.upper() not in ("Y", "N", ""):
            raise _corrupt(f.command, f"VARIABLE_YN is {yn!r}, expected Y or N")
        variable = yn.upper() == "Y"
    size: int | None = None
    size_text = at(6)
    if size_text:
        if not size_text.isdigit():
            raise _corrupt(f.command, f"MAX_MSG_SIZE is {size_text!r}, not a number")
        size = int(size_text)
    return LoginResult(
        resp_code=f.resp_code,
        resp_mesg=f.resp_mesg,
        fee_type=at(0),
        sms_cost=at(1),
        lms_cost=at(2),
        mms_cost=at(3),
        balance=at(4),
        variable=variable,
        max_msg_size=size,
    )


def _read_count(f: Frame) -> int:
    if len(f.body) < COUNT_LEN:
        raise _corrupt(f.command, f"body of {len(f.body)} bytes has no COUNT")
    return decode_number(f.body[:COUNT_LEN], "COUNT")


def _sms_record(b: bytes, legacy: bool) -> SmsRecord:
    return SmsRecord(
        grp_id=decode_text(b[0:20], "GRP_ID"),
        msg_id=decode_text(b[20:40], "MSG_ID"),
        sender=decode_text(b[40:52], "SENDER"),
        receiver=decode_text(b[52:64], "RECEIVER"),
        reserve_dt=decode_text(b[64:84], "RESERVE_DT"),
        timeout_dt=decode_text(b[84:104], "TIMEOUT_DT"),
        msg=decode_text(b[104:204], "MSG"),
        url=decode_text(b[204:284], "URL"),
        usercode="" if legacy else decode_text(b[284:314], "USERCODE"),
    )


def _layout(
    f: Frame, count: int, start: int, width: int, legacy_width: int
) -> tuple[bool, int]:
    """Whether the ``count`` records from ``start`` have the legacy layout (without
    USERCODE), and their width; the body must hold exactly that many whole records.
    """
    size = len(f.body) - start
    if size == width * count:
        return False, width
    if size == legacy_width * count:
        return True, legacy_width
    raise _corrupt(
        f.command,
        f"COUNT {count} needs {width * count} (or legacy "
        f"{legacy_width * count}) record bytes, LENGTH leaves {size}",
    )


def _sms_send(f: Frame) -> SmsSend:
    count = _read_count(f)
    legacy, width = _layout(f, count, COUNT_LEN, SMS_RECORD_LEN, SMS_RECORD_LEN_LEGACY)
    body = f.body
    records = tuple(
        _sms_record(body[COUNT_LEN + i * width : COUNT_LEN + (i + 1) * width], legacy)
        for i in range(count)
    )
    return SmsSend(records=records, legacy=legacy and count > 0)


def _lms_head(b: bytes, at: int) -> dict[str, str]:
    return {
        "grp_id": decode_text(b[at : at + 20], "GRP_ID"),
        "msg_id": decode_text(b[at + 20 : at + 40], "MSG_ID"),
        "sender": decode_text(b[at + 40 : at + 52], "SENDER"),
        "receiver": decode_text(b[at + 52 : at + 64], "RECEIVER"),
        "reserve_dt": decode_text(b[at + 64 : at + 84], "RESERVE_DT"),
        "timeout_dt": decode_text(b[at + 84 : at + 104], "TIMEOUT_DT"),
        "subject": decode_text(b[at + 104 : at + 224], "SUBJECT"),
    }


def _names(f: Frame) -> tuple[str, ...]:
    raw = f.body[COUNT_LEN : COUNT_LEN + FILE_NAMES_LEN]
    names = [
        decode_text(
            raw[i * FILE_NAME_LEN : (i + 1) * FILE_NAME_LEN], f"FILE_NAME{i + 1}"
        )
        for i in range(MAX_FILES)
    ]
    while names and not names[-1]:
        names.pop()
    return tuple(names)


def _fixed_send(f: Frame) -> FixedSend:
    count = _read_count(f)
    if count == 0 and len(f.body) == COUNT_LEN:
        return FixedSend()  # a keepalive sent as bare ``0000``: tolerated
    start = COUNT_LEN + FILE_NAMES_LEN
    legacy, width = _layout(f, count, start, FIXED_RECORD_LEN, FIXED_RECORD_LEN_LEGACY)
    body = f.body
    records = []
    for i in range(count):
        at = start + i * width
        head = _lms_head(body, at)
        msg_at = at + _LMS_HEAD
        records.append(
            LmsRecord(
                **head,
                msg=decode_text(body[msg_at : msg_at + FIXED_MSG_LEN], "MSG"),
                usercode=""
                if legacy
                else decode_text(
                    body[
                        msg_at + FIXED_MSG_LEN : msg_at + FIXED_MSG_LEN + USERCODE_LEN
                    ],
                    "USERCODE",
                ),
            )
        )
    return FixedSend(
        records=tuple(records), file_names=_names(f), legacy=legacy and count > 0
    )


def _variable_records(
    f: Frame, start: int, count: int, legacy: bool
) -> tuple[LmsRecord, ...] | None:
    """Records from ``start``, or None when they do not consume the body exactly."""
    body = f.body
    pos = start
    records = []
    tail = 0 if legacy else USERCODE_LEN
    for _ in range(count):
        if pos + MSG_LEN_LEN + _LMS_HEAD > len(body):
            return None
        msg_len = decode_number(body[pos : pos + MSG_LEN_LEN], "MSG_LEN")
        at = pos + MSG_LEN_LEN
        end = at + _LMS_HEAD + msg_len + tail
        if end > len(body):
            return None
        head = _lms_head(body, at)
        msg_at = at + _LMS_HEAD
        msg_raw = body[msg_at : msg_at + msg_len]
        try:
            msg = msg_raw.decode(fields.CHARSET)
        except UnicodeDecodeError:
            return None
        records.append(
            LmsRecord(
                **head,
                msg=msg,
                usercode=""
                if legacy
                else decode_text(body[msg_at + msg_len : end], "USERCODE"),
            )
        )
        pos = end
    if pos != len(body):
        return None
    return tuple(records)


def _plausible(records: tuple[LmsRecord, ...]) -> bool:
    return all(r.msg and r.msg_id and r.grp_id and r.receiver for r in records)


def _variable(f: Frame, start: int) -> tuple[tuple[LmsRecord, ...], bool]:
    """Variable records with USERCODE (spec) or without (the seed's totals, §6.9).

    Both layouts can consume the same LENGTH (a short record can hide in the other
    layout's USERCODE), so a layout whose records all have their required fields wins
    over one that merely adds up; the full layout wins a tie.
    """
    count = _read_count(f)
    parsed: list[tuple[tuple[LmsRecord, ...], bool]] = []
    for legacy in (False, True):
        try:
            records = _variable_records(f, start, count, legacy=legacy)
        except RemoteProtocolError:
            records = None  # misaligned by the other layout's guess
        if records is not None:
            parsed.append((records, legacy and count > 0))
    for records, legacy in parsed:
        if _plausible(records):
            return records, legacy
    if parsed:
        return parsed[0]
    raise _corrupt(
        f.command,
        f"COUNT {count} variable records do not add up to LENGTH {len(f.body)} "
        "(with or without USERCODE), or a MSG is not CP949",
    )


def _lms_send(f: Frame) -> LmsSend:
    records, legacy = _variable(f, COUNT_LEN)
    return LmsSend(records=records, legacy=legacy)


def _mms_send(f: Frame) -> MmsSend:
    if _read_count(f) == 0 and len(f.body) == COUNT_LEN:
        return MmsSend()
    if len(f.body) < COUNT_LEN + FILE_NAMES_LEN:
        raise _corrupt(f.command, f"body of {len(f.body)} bytes has no FILE_NAME1..4")
    records, legacy = _variable(f, COUNT_LEN + FILE_NAMES_LEN)
    return MmsSend(records=records, file_names=_names(f), legacy=legacy)


def _read_keys(f: Frame) -> tuple[MsgKey, ...]:
    count = _read_count(f)
    if len(f.body) != COUNT_LEN + KEY_LEN * count:
        raise _corrupt(
            f.command, f"COUNT {count} needs LENGTH {COUNT_LEN + KEY_LEN * count}"
        )
    b = f.body
    return tuple(
        MsgKey(
            grp_id=decode_text(b[at : at + ID_LEN], "GRP_ID"),
            msg_id=decode_text(b[at + ID_LEN : at + KEY_LEN], "MSG_ID"),
        )
        for at in range(COUNT_LEN, len(b), KEY_LEN)
    )


def _send_ack(f: Frame) -> SendAck:
    if not f.body:
        # A refusal without a body: COUNT 0 read tolerantly.
        return SendAck(resp_code=f.resp_code, resp_mesg=f.resp_mesg)
    return SendAck(resp_code=f.resp_code, resp_mesg=f.resp_mesg, keys=_read_keys(f))


def _batch_ack(f: Frame) -> BatchAck:
    # The body is empty by definition; anything in it carries no meaning.
    return BatchAck(resp_code=f.resp_code, resp_mesg=f.resp_mesg)


def _result_ack(f: Frame) -> ResultAck:
    return ResultAck(keys=_read_keys(f), resp_code=f.resp_code, resp_mesg=f.resp_mesg)


def _results(f: Frame) -> Results:
    if not f.body:
        return Results(resp_code=f.resp_code, resp_mesg=f.resp_mesg)
    count = _read_count(f)
    if len(f.body) != COUNT_LEN + RESULT_RECORD_LEN * count:
        raise _corrupt(
            f.command,
            f"COUNT {count} needs LENGTH {COUNT_LEN + RESULT_RECORD_LEN * count}",
        )
    b = f.body
    records = tuple(
        ResultRecord(
            grp_id=decode_text(b[at : at + 20], "GRP_ID"),
            msg_id=decode_text(b[at + 20 : at + 40], "MSG_ID"),
            receiver=decode_text(b[at + 40 : at + 52], "RECEIVER"),
            send_dt=decode_text(b[at + 52 : at + 72], "SEND_DT"),
            result=decode_text(b[at + 72 : at + 75], "RESULT"),
            telecom=decode_loose(b[at + 75 : at + 82]),
        )
        for at in range(COUNT_LEN, len(b), RESULT_RECORD_LEN)
    )
    return Results(records=records, resp_code=f.resp_code, resp_mesg=f.resp_mesg)


def _file_upload(f: Frame) -> FileUpload:
    head = FILE_LENGTH_LEN + FILE_EXT_LEN
    if len(f.body) < head:
        raise _corrupt(f.command, f"body of {len(f.body)} bytes has no FILE_LENGTH/EXT")
    size = decode_number(f.body[:FILE_LENGTH_LEN], "FILE_LENGTH")
    if size != len(f.body) - head:
        raise _corrupt(
            f.command, f"FILE_LENGTH {size} but {len(f.body) - head} file bytes follow"
        )
    return FileUpload(
        ext=decode_text(f.body[FILE_LENGTH_LEN:head], "FILE_EXT"), data=f.body[head:]
    )


def _file_result(f: Frame) -> FileResult:
    if len(f.body) not in (0, FILE_RESULT_LEN):
        raise _corrupt(f.command, f"LENGTH {len(f.body)}, expected {FILE_RESULT_LEN}")
    return FileResult(
        resp_code=f.resp_code,
        resp_mesg=f.resp_mesg,
        file_name=decode_text(f.body, "FILE_NAME"),
    )


_DECODERS: dict[int, Callable[[Frame], Event]] = {
    Command.LOGIN: _login,
    Command.LOGIN_RESULT: _login_result,
    Command.SMS_SEND: _sms_send,
    Command.FIXED_SEND: _fixed_send,
    Command.LMS_SEND: _lms_send,
    Command.MMS_SEND: _mms_send,
    Command.SEND_ACK: _send_ack,
    Command.BATCH_ACK: _batch_ack,
    Command.RESULT_ACK: _result_ack,
    Command.RESULTS: _results,
    Command.FILE_UPLOAD: _file_upload,
    Command.FILE_RESULT: _file_result,
}
