"""The one exception tree of umsgate.

::

    UmsgateError
     ├── ConfigError                 settings that cannot be used (names key and value)
     ├── TargetRefused               a URL the gateway does not call (outbound policy)
     ├── ValidationError             a request breaks a rule; carries `code`, `field`
     │    └── (raised by domain/ and faces; each face maps `code` to its own vocabulary)
     ├── StoreError                  the database failed (driver errors converted here)
     │    ├── DuplicateKeyError
     │    └── GatewayGone            the gateway process is gone (also a ConnectorError)
     ├── ProtocolError               a wire protocol was broken: `code`, `close_session`
     │    ├── LocalProtocolError     we misused the protocol (a bug or a bad value)
     │    └── RemoteProtocolError    the peer sent something off the protocol
     └── ConnectorError              a provider could not take a message
          ├── TransientConnectorError  try again later (down, throttled, timed out)
          ├── PermanentConnectorError  never succeeds as sent (auth, bad number)
          └── GatewayGone

Each module's own errors derive from the family above that fits, or from
`UmsgateError` itself (`umsgate.engine.intake.Throttled`,
`umsgate.front.wire.FrameError`, `umsgate.reports.http11.RequestError`,
`umsgate.protocols._http.schedule.AgendaFull`, ...); those that callers also catch by
a built-in class keep it as a second base (``config.BadValue`` and
``domain.phone.InvalidNumber`` are ValueErrors, ``smpp.link.LinkDown`` a
ConnectionError).

A test (tests/unit/test_errors.py) checks that every exception class under
``umsgate`` is in the tree. Foreign exceptions (sqlite3, asyncpg, httpx, OSError)
are converted at the layer boundary with ``raise ... from exc``. The default
message of every class is its docstring's first line.
"""

from __future__ import annotations


class UmsgateError(Exception):
    """umsgate failed."""

    def __init__(self, message: str | None = None) -> None:
        if message is None:
            doc = type(self).__doc__ or type(self).__name__
            message = doc.strip().splitlines()[0]
        super().__init__(message)
        self.message = message


class ConfigError(UmsgateError):
    """The configuration cannot be used."""


class TargetRefused(UmsgateError):
    """The gateway does not call this URL (`umsgate.targets`)."""


class ValidationError(UmsgateError):
    """A request breaks a rule of the API.

    Attributes:
        code: the unified validation code (`umsgate.domain.results.Invalid`), which each
            face translates into its protocol's own code.
        field: the name of the offending field, when there is one.
    """

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class StoreError(UmsgateError):
    """The store failed."""


class DuplicateKeyError(StoreError):
    """A row with that key exists already."""


class ProtocolError(UmsgateError):
    """A wire protocol was broken.

    Attributes:
        code: the error in the protocol's own vocabulary (an SMPP command_status, a
            UShot RESP_CODE, an API-Gateway resultCode), or None.
        close_session: whether the session cannot go on after this error.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | str | None = None,
        close_session: bool = True,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.close_session = close_session


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class ConnectorError(UmsgateError):
    """A provider could not take a message."""

    def __init__(
        self, message: str | None = None, *, raw_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.raw_code = raw_code


class TransientConnectorError(ConnectorError):
    """The provider cannot take the message now; a later try may succeed."""


class PermanentConnectorError(ConnectorError):
    """The provider will never take the message as it is."""


class GatewayGone(StoreError, ConnectorError):
    """The gateway process is gone: what was asked of it may or may not be done.

    A front's message may or may not be stored (a `StoreError` to the faces); a
    connector process's report was not committed (a `ConnectorError` to the
    connector, which gives the report back to its provider)."""


class Throttled(UmsgateError):
    """The client's TPS for this channel is used up (nothing was stored)."""
