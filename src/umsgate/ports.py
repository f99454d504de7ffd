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

from umsgate.clients import ClientInfo, Directory
from umsgate.config import Settings
from umsgate.domain.submission import Accepted, Submission
from umsgate.engine.intake import Intake
from umsgate.files import FileStore, Stored

if TYPE_CHECKING:
    # Annotations only: a front process, which imports this, never loads the
    # SQLAlchemy store.
    from umsgate.domain.records import StoredMessage
    from umsgate.store.database import Database


class Counts(Protocol):
    """The counts of ``/metrics`` a face adds to."""

    def accepted(self, channel: str, repeated: bool) -> None: ...
    def rejected(self, channel: str, reason: str) -> None: ...


class CountedHost(Protocol):
    """What every face reads of its process: the settings and the counts."""

    @property
    def settings(self) -> Settings: ...
    @property
    def metrics(self) -> Counts: ...


class FaceHost(CountedHost, Protocol):
    """What every face of the clients reads: besides the settings and the counts,
    the client accounts and the uploaded files."""

    @property
    def directory(self) -> Directory: ...
    @property
    def files(self) -> FileStore: ...


class ToBeTextDirectory(Protocol):
    """The client accounts as ToBeText's send asks them."""

    async def authenticate_tobetext(self, cid: str, token: str) -> ClientInfo: ...


class ToBeTextHost(CountedHost, Protocol):
    """What ToBeText's send (`umsgate.protocols.tobetext.send`) needs: a `SendHost`,
    or the provider's simulator, which serves the same face in front of a fake
    carrier (`umsgate.protocols.tobetext.simulator`)."""

    @property
    def directory(self) -> ToBeTextDirectory: ...
    @property
    def intake(self) -> Intake: ...


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


class ImsDirectory(Protocol):
    """The client accounts as the IMS face asks them."""

    async def authenticate_imsms(self, api_key: str) -> ClientInfo: ...


class Uploads(Protocol):
    """Where the IMS face keeps an attachment (`umsgate.files.FileStore`)."""

    async def put(self, client_id: str, name: str, data: bytes) -> Stored: ...


class Allows(Protocol):
    """The clients' TPS buckets (`umsgate.engine.throttle.Throttles`)."""

    def allow(self, client_id: str, key: str, tps: float | None) -> bool: ...


class Accepts(Protocol):
    """The store's door (`umsgate.engine.accept.Acceptor`)."""

    async def accept(self, submission: Submission) -> Accepted: ...


class ImsHost(CountedHost, Protocol):
    """The IMS face's (`umsgate.protocols.imsms.face`): it takes messages through
    the throttles and the acceptor itself, and answers state queries. The `Gateway`
    is one; the provider's simulator, which serves the same face in front of a fake
    carrier (`umsgate.protocols.imsms.simulator`), another."""

    @property
    def directory(self) -> ImsDirectory: ...
    @property
    def files(self) -> Uploads: ...
    @property
    def throttles(self) -> Allows: ...
    @property
    def acceptor(self) -> Accepts: ...

    async def message_by_src(
        self, client_id: str, src_msg_id: str
    ) -> StoredMessage | None:
        """A client's own message by its client-side id."""
        ...
