"""What the faces need of the process that serves them, as protocols.

A face (the native API, the compatible faces, the console) reads the process
that serves it from ``request.app.state``: the gateway process's `Gateway`
(`umsgate.app`, the composition root) or, for the sends, a front's `Front`
(`umsgate.front.app`). The faces name what they call here, and both satisfy it
structurally: no face imports the composition root, so the layers below it stay
free of import cycles (``tests/unit/test_layers.py`` checks both). The console's
own port, which holds its operator sessions, is `umsgate.console.auth.ConsoleHost`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from umsgate.clients import Directory
from umsgate.config import Settings
from umsgate.engine.intake import Intake
from umsgate.engine.throttle import Throttles
from umsgate.files import FileStore

if TYPE_CHECKING:
    # Annotations only: a front process, which imports this, never loads the
    # engine's acceptor or the SQLAlchemy store.
    from umsgate.engine.accept import Acceptor
    from umsgate.store.database import Database
    from umsgate.store.messages import StoredMessage


class Counts(Protocol):
    """The counts of ``/metrics`` a face adds to."""

    def accepted(self, channel: str, repeated: bool) -> None: ...
    def rejected(self, channel: str, reason: str) -> None: ...


class FaceHost(Protocol):
    """What every face of the clients reads: the settings, the client accounts,
    the uploaded files and the counts."""

    @property
    def settings(self) -> Settings: ...
    @property
    def directory(self) -> Directory: ...
    @property
    def files(self) -> FileStore: ...
    @property
    def metrics(self) -> Counts: ...


class SendHost(FaceHost, Protocol):
    """What a send needs of its process: the `Gateway`, or a front
    (`umsgate.front.app.Front`) that hands its messages to the gateway's process."""

    @property
    def intake(self) -> Intake: ...


class NativeHost(SendHost, Protocol):
    """The native face's (`umsgate.protocols.apigw.face`, ``lookup``): besides the
    sends, the store's reads and the report check."""

    @property
    def db(self) -> Database: ...

    async def take_report_check(self, client_id: str) -> float:
        """0 when the client's report-check slot was free (and is now taken), else
        the seconds until it is."""
        ...

    async def reports_for_check(
        self,
        client_id: str,
        ids: Sequence[int],
        channels: Sequence[str],
        origins: Sequence[str],
    ) -> list[str]: ...


class ImsHost(FaceHost, Protocol):
    """The IMS face's (`umsgate.protocols.imsms.face`): it takes messages through
    the throttles and the acceptor itself, and answers state queries."""

    @property
    def throttles(self) -> Throttles: ...
    @property
    def acceptor(self) -> Acceptor: ...

    async def message_by_src(
        self, client_id: str, src_msg_id: str
    ) -> StoredMessage | None:
        """A client's own message by its client-side id."""
        ...
