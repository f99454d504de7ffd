"""SMPP codes → unified result codes: one table for receipt ``stat:`` words, one for
the command_status of a submit_sm_resp. ``docs/protocols/smpp.md`` renders both, and
a unit test checks the document against these tables.

A code is transient exactly when its unified code is (`ResultCode.transient`):
throttling, a full queue and a system error ask for a later try; everything else
fails the message. A command_status missing from the table (vendor codes
0x400–0x4FF) is a permanent FAILED unless the connector's ``retry_statuses`` option
names it.
"""

from __future__ import annotations

from umsgate.domain.results import ResultCode
from umsgate.protocols.smpp.codes import CommandStatus as S
from umsgate.protocols.smpp.tlv import NetworkErrorCode

#: Receipt ``stat:`` → unified code; None = not final (no report is made).
STAT_RESULTS: dict[str, ResultCode | None] = {
    "DELIVRD": ResultCode.DELIVERED,
    "EXPIRED": ResultCode.EXPIRED,
    "DELETED": ResultCode.FAILED,
    "UNDELIV": ResultCode.FAILED,
    # §5.2.28 makes ACCEPTED final: "manually read on behalf of the subscriber".
    "ACCEPTD": ResultCode.DELIVERED,
    "UNKNOWN": ResultCode.FAILED,
    "REJECTD": ResultCode.CARRIER_REJECTED,
    "ENROUTE": None,
}

#: GSM MAP errors (3GPP TS 29.002 §17.6.6) in a network_error_code of type 3 that
#: say more than UNDELIV.
GSM_ERROR_RESULTS: dict[int, ResultCode] = {
    1: ResultCode.INVALID_NUMBER,  # unknownSubscriber
    5: ResultCode.INVALID_NUMBER,  # unidentifiedSubscriber
    9: ResultCode.INVALID_NUMBER,  # illegalSubscriber
    11: ResultCode.NO_SERVICE,  # teleserviceNotProvisioned
    13: ResultCode.BLOCKED,  # callBarred
    21: ResultCode.UNSUPPORTED,  # facilityNotSupported
    27: ResultCode.UNREACHABLE,  # absentSubscriber
    31: ResultCode.UNREACHABLE,  # subscriberBusyForMT-SMS
}
#: network_type of GSM in network_error_code (§5.3.2.31).
NETWORK_GSM = 3

#: submit_sm_resp command_status → unified code.
STATUS_RESULTS: dict[int, ResultCode] = {
    S.RINVMSGLEN: ResultCode.CONTENT_REJECTED,
    S.RINVCMDLEN: ResultCode.CARRIER_REJECTED,
    S.RINVCMDID: ResultCode.CARRIER_REJECTED,
    # The session is not in a state to submit: a new bind fixes it.
    S.RINVBNDSTS: ResultCode.CONNECTION_ERROR,
    S.RALYBND: ResultCode.CONNECTION_ERROR,
    S.RINVPRTFLG: ResultCode.CARRIER_REJECTED,
    S.RINVREGDLVFLG: ResultCode.CARRIER_REJECTED,
    S.RSYSERR: ResultCode.PROVIDER_ERROR,
    # Korean carriers refuse an unregistered sender number as an invalid source.
    S.RINVSRCADR: ResultCode.SENDER_NOT_REGISTERED,
    S.RINVDSTADR: ResultCode.INVALID_NUMBER,
    S.RINVMSGID: ResultCode.FAILED,
    S.RBINDFAIL: ResultCode.AUTH_FAILED,
    S.RINVPASWD: ResultCode.AUTH_FAILED,
    S.RINVSYSID: ResultCode.AUTH_FAILED,
    S.RCANCELFAIL: ResultCode.FAILED,
    S.RREPLACEFAIL: ResultCode.FAILED,
    S.RMSGQFUL: ResultCode.RETRY_LATER,
    S.RINVSERTYP: ResultCode.CARRIER_REJECTED,
    S.RINVNUMDESTS: ResultCode.CARRIER_REJECTED,
    S.RINVDLNAME: ResultCode.CARRIER_REJECTED,
    S.RINVDESTFLAG: ResultCode.CARRIER_REJECTED,
    S.RINVSUBREP: ResultCode.CARRIER_REJECTED,
    S.RINVESMCLASS: ResultCode.CONTENT_REJECTED,
    S.RCNTSUBDL: ResultCode.CARRIER_REJECTED,
    S.RSUBMITFAIL: ResultCode.FAILED,
    S.RINVSRCTON: ResultCode.CARRIER_REJECTED,
    S.RINVSRCNPI: ResultCode.CARRIER_REJECTED,
    S.RINVDSTTON: ResultCode.INVALID_NUMBER,
    S.RINVDSTNPI: ResultCode.INVALID_NUMBER,
    S.RINVSYSTYP: ResultCode.AUTH_FAILED,
    S.RINVREPFLAG: ResultCode.CARRIER_REJECTED,
    S.RINVNUMMSGS: ResultCode.CARRIER_REJECTED,
    S.RTHROTTLED: ResultCode.THROTTLED,
    S.RINVSCHED: ResultCode.CARRIER_REJECTED,
    S.RINVEXPIRY: ResultCode.CARRIER_REJECTED,
    S.RINVDFTMSGID: ResultCode.CONTENT_REJECTED,
    S.RX_T_APPN: ResultCode.RETRY_LATER,
    S.RX_P_APPN: ResultCode.FAILED,
    S.RX_R_APPN: ResultCode.CARRIER_REJECTED,
    S.RQUERYFAIL: ResultCode.FAILED,
    S.RINVOPTPARSTREAM: ResultCode.CARRIER_REJECTED,
    S.ROPTPARNOTALLWD: ResultCode.CARRIER_REJECTED,
    S.RINVPARLEN: ResultCode.CARRIER_REJECTED,
    S.RMISSINGOPTPARAM: ResultCode.CARRIER_REJECTED,
    S.RINVOPTPARAMVAL: ResultCode.CARRIER_REJECTED,
    S.RDELIVERYFAILURE: ResultCode.FAILED,
    # "Unknown Error": nothing says the message itself is at fault.
    S.RUNKNOWNERR: ResultCode.PROVIDER_ERROR,
}

#: Statuses that slow the route down (the SMSC is asking for fewer messages).
THROTTLING_STATUSES: frozenset[int] = frozenset({S.RTHROTTLED, S.RMSGQFUL})


def for_status(status: int, retry_statuses: frozenset[int] = frozenset()) -> ResultCode:
    """The unified code of an error command_status."""
    if status in retry_statuses:
        return ResultCode.PROVIDER_ERROR
    return STATUS_RESULTS.get(status, ResultCode.FAILED)


def for_stat(
    stat: str, network_error: NetworkErrorCode | None = None
) -> ResultCode | None:
    """The unified code of a receipt's ``stat:``; None for ENROUTE (not final).

    An UNDELIV with a GSM network_error_code that the table knows gets the finer
    code; an unknown ``stat:`` word is FAILED.
    """
    if stat not in STAT_RESULTS:
        return ResultCode.FAILED
    code = STAT_RESULTS[stat]
    if (
        code is ResultCode.FAILED
        and stat == "UNDELIV"
        and network_error is not None
        and network_error.network_type == NETWORK_GSM
    ):
        return GSM_ERROR_RESULTS.get(network_error.error_code, code)
    return code
