"""The one SMPP-specific leaf of umsgate's error tree.

::

    RemoteProtocolError (umsgate.errors)
     └── InvalidPdu      a PDU from the peer that breaks SMPP; carries the header
                         of the offending PDU so the answer can name it

``code`` is always an SMPP command_status (`codes.CommandStatus`). ``close_session`` is
true when the byte stream can no longer be framed (a bad command_length): then the
only safe move is to close the connection. Otherwise the PDU boundary is intact and
the receiver answers with `pdu.error_reply` and goes on, as §2.8 and §4.3 describe.
"""

from __future__ import annotations

from umsgate.errors import RemoteProtocolError


class InvalidPdu(RemoteProtocolError):
    """The peer sent a PDU that breaks SMPP 3.4.

    Attributes:
        code: the command_status that describes the fault.
        command_id: the command_id of the offending PDU, when it could be read.
        sequence: its sequence_number, when it could be read (0 otherwise, as
            generic_nack uses for an unreadable header, §4.3.1).
        malformed: false when the PDU itself is sound and only not welcome now (a
            wrong bind state, a full window): the answer says so and the session
            goes on whatever the driver's policy on malformed PDUs.
    """

    code: int

    def __init__(
        self,
        message: str,
        *,
        code: int,
        command_id: int | None = None,
        sequence: int = 0,
        close_session: bool = False,
        malformed: bool = True,
    ) -> None:
        super().__init__(message, code=code, close_session=close_session)
        self.code = code
        self.command_id = command_id
        self.sequence = sequence
        self.malformed = malformed
