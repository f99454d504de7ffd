"""The composition root: builds the store, engine, faces and connectors from `Settings`
and runs them for the lifetime of the ASGI app.

`Gateway` owns every long-lived part; `create_app(settings)` wraps it in a Starlette
app whose lifespan starts it (migrating the store first) and stops it in reverse
order: the API stops taking messages, the acceptor commits what it holds, the
dispatcher finishes its submits, the ledger writes their results, the notifier
records its deliveries, and the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from umsgate import __version__, webhookkeys
from umsgate.clients import Directory
from umsgate.clock import SystemClock
from umsgate.config import Settings
from umsgate.console import api as console_api
from umsgate.console import openapi as console_openapi
from umsgate.console import pages as console_pages
from umsgate.console.auth import ConsoleHost
from umsgate.console.operators import Sessions
from umsgate.domain.ids import IdGenerator
from umsgate.domain.records import StoredMessage
from umsgate.engine import breaker, duplicates
from umsgate.engine.accept import Acceptor
from umsgate.engine.dispatcher import CHUNK, Dispatcher
from umsgate.engine.intake import LocalIntake
from umsgate.engine.ledger import Final, Ledger, Reported
from umsgate.engine.nodes import Nodes
from umsgate.engine.pacer import Pacer
from umsgate.engine.router import Router
from umsgate.engine.throttle import Throttles
from umsgate.files import FileStore
from umsgate.front.server import IntakeServer
from umsgate.front.supervisor import Fronts
from umsgate.hosting.connector import HostedConnector
from umsgate.lockout import Guard
from umsgate.metrics import Metrics
from umsgate.ports import ImsHost, NativeHost, SendHost, ToBeTextHost
from umsgate.protocols.apigw import apidoc, openapi
from umsgate.protocols.apigw import face as native
from umsgate.protocols.apigw import lookup as native_lookup
from umsgate.protocols.imsms import face as imsms_face
from umsgate.protocols.registry import (
    OWN_WINDOW,
    USES_HTTP,
    ConnectorContext,
    Endpoint,
    NoHttp,
    build_connector,
)
from umsgate.protocols.sandbox.carrier import SandboxCarrier
from umsgate.protocols.tobetext import face as tobetext_face
from umsgate.reports.faces import ReportFace
from umsgate.reports.notifier import Notifier
from umsgate.sealing import Sealer
from umsgate.store import accounts, migrate
from umsgate.store import messages as message_store
from umsgate.store import reports as report_store
from umsgate.store.database import Database, open_database
from umsgate.types import Connector, ProviderReport

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("umsgate.app")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FrontPlan:
    """The HTTP front processes of a gateway process (`umsgate.front`)."""

    count: int
    #: argv of one front.
    command: Sequence[str]
    #: The Unix socket the fronts hand their messages to.
    intake: str


#: How often expired files and tokens are purged (seconds).
PURGE_INTERVAL = 3600.0
#: Seconds between two counts of the backlog for /metrics.
BACKLOG_EVERY = 2.0


def default_faces() -> tuple[ReportFace, ...]:
    """The compatible faces' report formats, with the push rules of their specs."""
    return (tobetext_face.ToBeTextReports(), imsms_face.ImsReports())


class Gateway:
    """Every long-lived part of one gateway process."""

    def __init__(
        self,
        settings: Settings,
        *,
        connectors: Mapping[str, Connector] | None = None,
        faces: Sequence[ReportFace] | None = None,
    ) -> None:
        """Args:
        settings: the validated settings tree.
        connectors: ready-made connectors by name, next to those the settings
            describe (for embedding umsgate, and for tests' scripted providers).
        faces: the compatible faces' report formats and push rules (default
            `default_faces`; embedders and tests may change the rules).
        """
        self.settings = settings
        self._given_connectors = dict(connectors or {})
        self.faces: dict[str, ReportFace] = {
            f.name: f for f in (default_faces() if faces is None else faces)
        }
        self.clock = SystemClock()
        self.db: Database = open_database(settings)
        self.metrics = Metrics()
        self._backlog_at = float("-inf")
        auth = settings.auth
        self.sealer = Sealer(settings.security.secret_key)
        self.directory = Directory(
            self.db,
            token_ttl=auth.token_ttl,
            cache_ttl=auth.cache_ttl,
            clock=self.clock,
            sealer=self.sealer,
            hash_workers=auth.hash_workers,
            guard=Guard(
                client_free=auth.failures_before_lockout,
                address_free=auth.address_failures_before_lockout,
                max_seconds=auth.lockout_max_seconds,
                keys=auth.lockout_keys,
                on_failure=self.metrics.auth_failed,
                on_refused=self.metrics.auth_refused,
                on_lockout=self.metrics.auth_lockout,
            ),
        )
        self.files = FileStore(self.db)
        self.operator_sessions = Sessions(
            self.db, settings.console, hashes=self.directory.hashes
        )
        self.throttles = Throttles()
        self.nodes = Nodes(
            self.db, timeout=settings.engine.node_timeout, clock=self.clock
        )
        #: The HTTP client lent to connectors that make HTTP requests; made with
        #: them (`_build_connectors`), so that a gateway with none never loads httpx.
        self.http: httpx.AsyncClient | None = None
        self.extra_routes: list[BaseRoute] = []
        self.connectors: dict[str, Connector] = {}
        #: Parked reports dropped without finding their message, by connector, and
        #: the provider id of the last one.
        self.unmatched: dict[str, int] = {}
        self.last_unmatched: dict[str, str] = {}
        #: The HTTP front processes, when this process has them.
        self.fronts: Fronts | None = None
        self.intake_server: IntakeServer | None = None
        self._started = False
        self._purger: asyncio.Task[None] | None = None
        # Built in start(), once the node slot (part of every id) is known.
        self.ids: IdGenerator
        self.acceptor: Acceptor
        self.intake: LocalIntake
        self.ledger: Ledger
        self.dispatcher: Dispatcher
        self.notifier: Notifier
        self.router: Router

    def _build_connectors(self) -> None:
        if self.http is None and any(
            cs.protocol in USES_HTTP for cs in self.settings.connectors
        ):
            # Imported here: httpx and the parts of it nothing else in this process
            # loads (about 4 MiB) are not needed by a gateway without an HTTP
            # provider (SMPP, UShot, the sandbox).
            import httpx

            self.http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.webhook.timeout),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=128),
                follow_redirects=False,
            )
        http = self.http if self.http is not None else NoHttp()
        context = ConnectorContext(
            http=cast("httpx.AsyncClient", http),
            files=self.files,
            add_route=self._add_route,
            public_url=self.settings.server.public_url
            or f"http://{self.settings.server.host}:{self.settings.server.port}",
            clock=self.clock,
        )
        self.connectors["sandbox"] = SandboxCarrier(self.settings.sandbox)
        for cs in self.settings.connectors:
            connector = build_connector(cs, context)
            # With own_process, built only to check its options: it runs in a
            # process of its own, which builds it again.
            self.connectors[cs.name] = (
                HostedConnector(cs) if cs.own_process else connector
            )
        self.connectors.update(self._given_connectors)

    def _pacers(self) -> dict[str, Pacer]:
        """The pacers of the connectors with ``tps`` or ``window``."""
        pacers = {}
        for cs in self.settings.connectors:
            pacer = Pacer.for_connector(
                cs,
                max_chunk=CHUNK,
                db=self.db,
                clock=self.clock,
                own_window=cs.protocol in OWN_WINDOW,
            )
            if pacer is not None:
                pacers[cs.name] = pacer
        return pacers

    def _add_route(self, path: str, endpoint: Endpoint, methods: Sequence[str]) -> None:
        self.extra_routes.append(Route(path, endpoint, methods=list(methods)))

    async def start(self) -> None:
        await migrate.upgrade(self.db)
        # With a secret key: seal the signing keys stored in clear. A sealed key
        # that cannot be opened stops the start (SealError), rather than leave its
        # client's reports unsigned.
        sealed = await webhookkeys.seal_signing_keys(self.db, self.sealer)
        if sealed:
            log.info(
                "sealed the webhook signing keys of %d clients",
                sealed,
                extra={"event": "keys_sealed"},
            )
        slot = await self.nodes.join()
        await self.nodes.beat()
        self.throttles.share = 1.0 / max(1, len(self.nodes.live))
        self.ids = IdGenerator(slot)
        self.ledger = Ledger(
            self.db,
            ids=self.ids,
            node_id=self.nodes.node_id,
            clock=self.clock,
            retry_base=self.settings.engine.retry_base,
            retry_max=self.settings.engine.retry_max,
            default_ttl=self.settings.engine.default_ttl,
            on_final=self._on_final,
            on_queued=self._on_queued,
            on_unmatched=self._on_unmatched,
            unmatched_ttl=self.settings.engine.unmatched_report_ttl,
            faces=self.faces,
        )
        self._build_connectors()
        self.router = Router(
            self.settings.routes,
            self.connectors,
            policy=self.settings.breaker,
            on_transition=self._on_breaker,
        )
        self.dispatcher = Dispatcher(
            self.db,
            ledger=self.ledger,
            router=self.router,
            connectors=self.connectors,
            nodes=self.nodes,
            settings=self.settings.engine,
            clock=self.clock,
            on_submitted=self.metrics.submitted,
            pacers=self._pacers(),
        )
        self.acceptor = Acceptor(
            self.db,
            ids=self.ids,
            clock=self.clock,
            max_batch=self.settings.store.commit_batch,
            on_committed=self.dispatcher.wake,
            screen=duplicates.screen,
            fast_lane=self.dispatcher,
        )
        self.intake = LocalIntake(self.throttles, self.acceptor)
        self.notifier = Notifier(
            self.db,
            directory=self.directory,
            settings=self.settings.webhook,
            clock=self.clock,
            on_result=self.metrics.webhook,
            faces={n: f.push for n, f in self.faces.items() if f.push is not None},
        )
        self.ledger.start()
        for connector in self.connectors.values():
            await connector.start(self)
        self.acceptor.start()
        await self.dispatcher.recover()
        self.dispatcher.start()
        self.notifier.start()
        self._purger = asyncio.create_task(self._purge_loop(), name="purger")
        self._started = True
        log.info("gateway started", extra={"event": "start"})

    async def stop(self) -> None:
        self.directory.close()
        if not self._started:
            await self.db.close()
            await self._close_http()
            return
        self._started = False
        if self._purger is not None:
            self._purger.cancel()
        await self.acceptor.stop()
        await self.dispatcher.stop()
        for connector in self.connectors.values():
            with contextlib.suppress(Exception):
                await connector.stop()
        await self.ledger.stop()
        await self.notifier.stop()
        with contextlib.suppress(Exception):
            await self.nodes.leave()
        await self._close_http()
        await self.db.close()
        log.info("gateway stopped", extra={"event": "stop"})

    async def _close_http(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    # -- the ReportSink every connector reports into -----------------------------------

    async def report(self, report: ProviderReport) -> None:
        await self.ledger.apply(Reported(report=report))

    async def report_many(self, reports: Sequence[ProviderReport]) -> None:
        await self.ledger.apply_many([Reported(report=r) for r in reports])

    def report_soon(self, reports: Sequence[ProviderReport]) -> asyncio.Future[None]:
        return self.ledger.queue_many([Reported(report=r) for r in reports])

    def _on_breaker(self, change: breaker.Transition) -> None:
        """Log and count each breaker transition once."""
        self.metrics.breaker(change.connector, change.new.value)
        extra = {"event": f"breaker.{change.new.value}", "route": change.connector}
        if change.new is breaker.State.OPEN:
            log.warning(
                "connector %s out of rotation for %.1f s: %s",
                change.connector,
                change.retry_in or 0.0,
                change.event.value + (f" ({change.detail})" if change.detail else ""),
                extra=extra,
            )
        elif change.new is breaker.State.HALF_OPEN:
            log.info(
                "connector %s: probing%s",
                change.connector,
                f" ({change.detail})" if change.detail else "",
                extra=extra,
            )
        else:
            log.info("connector %s back in rotation", change.connector, extra=extra)

    def _on_final(self, finals: list[Final]) -> None:
        self.metrics.finals(finals)
        self.notifier.wake()

    def _on_queued(self) -> None:
        self.dispatcher.wake()

    def _on_unmatched(self, connector: str, provider_msg_id: str) -> None:
        self.metrics.unmatched(connector)
        self.unmatched[connector] = self.unmatched.get(connector, 0) + 1
        self.last_unmatched[connector] = provider_msg_id

    def report_health(self) -> dict[str, Any]:
        """What became of provider reports that could not be used at once: parked
        (waiting for their message), dropped unmatched, refused to the provider
        (by connector); also kept current in the metrics."""
        refused = {}
        for name, connector in self.connectors.items():
            health = connector.health()
            self.metrics.refused(name, health.refused)
            if health.refused:
                refused[name] = {"count": health.refused, "last": health.last_refusal}
        parked = self.ledger.parked
        self.metrics.parked.set(parked)
        return {
            "parked": parked,
            "unmatched": {
                name: {"count": n, "last": self.last_unmatched.get(name, "")}
                for name, n in self.unmatched.items()
            },
            "refused": refused,
        }

    async def refresh_backlog(self) -> None:
        """Count the backlog into the metrics: messages not final by status and
        channel, reports waiting for their webhook and the age of the oldest. At
        most once per `BACKLOG_EVERY` seconds, however often /metrics is read."""
        now = time.monotonic()
        if now - self._backlog_at < BACKLOG_EVERY:
            return
        self._backlog_at = now
        counts = await message_store.backlog(self.db)
        webhooks = await report_store.webhook_backlog(self.db)
        self.metrics.backlog(counts)
        oldest = webhooks.oldest
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        self.metrics.webhook_backlog(webhooks.waiting, age)

    # -- helpers of the faces ----------------------------------------------------------

    async def message_by_src(
        self, client_id: str, src_msg_id: str
    ) -> StoredMessage | None:
        """A client's own message by its client-side id (the faces' state queries)."""
        return await message_store.message_by_src(self.db, client_id, src_msg_id)

    async def take_report_check(self, client_id: str) -> float:
        """Take the client's report-check slot: 0 when taken, else the seconds until
        the next one is free."""
        now = time.time()
        interval = self.settings.report_check.interval
        return await accounts.take_report_check(self.db, client_id, now, interval)

    async def reports_for_check(
        self,
        client_id: str,
        ids: Sequence[int],
        channels: Sequence[str],
        origins: Sequence[str],
    ) -> list[str]:
        return await report_store.reports_for_check(
            self.db, client_id, ids, channels, origins
        )

    async def _purge_loop(self) -> None:
        while True:
            try:
                removed = await self.files.purge()
                await accounts.delete_expired_tokens(self.db, time.time())
                await message_store.delete_expired_send_guards(self.db, time.time())
                await self.operator_sessions.purge()
                if removed:
                    log.info(
                        "purged %d expired files", removed, extra={"event": "purge"}
                    )
                self.throttles.share = 1.0 / max(1, len(self.nodes.live))
            except Exception:
                log.exception("purge failed", extra={"event": "purge_error"})
            await asyncio.sleep(
                min(PURGE_INTERVAL, self.settings.engine.heartbeat_interval * 12)
            )


def _fronts_health(gw: Gateway) -> dict[str, Any]:
    assert gw.fronts is not None
    server = gw.intake_server
    return {
        "pids": gw.fronts.pids,
        "ready": server.ready if server else 0,
        "restarts": gw.fronts.restarts,
        "messages": server.received if server else 0,
    }


async def healthz(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    breakers = gw.router.breakers()
    connectors = {}
    for name, c in gw.connectors.items():
        health = c.health()
        connectors[name] = {"up": health.up, "detail": health.detail}
        if health.refused:
            connectors[name]["refused"] = health.refused
            connectors[name]["last_refusal"] = health.last_refusal
        if isinstance(c, HostedConnector):
            connectors[name]["process"] = {"pid": c.pid, "restarts": c.restarts}
        if name in breakers:
            connectors[name]["breaker"] = breakers[name].as_json()
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "node": gw.nodes.node_id,
            "connectors": connectors,
            "reports": gw.report_health(),
            **({"fronts": _fronts_health(gw)} if gw.fronts is not None else {}),
        }
    )


#: How long /readyz waits for the store's answer (seconds).
READY_STORE_TIMEOUT = 5.0


async def readyz(request: Request) -> Response:
    """Readiness: 200 when the store answers and every configured route has a
    connector that can take a message; else 503 with the reasons (``/healthz``
    stays liveness: the process runs)."""
    gw: Gateway = request.app.state.gateway
    reasons: list[dict[str, str]] = []
    try:
        async with asyncio.timeout(READY_STORE_TIMEOUT):
            await gw.db.ping()
    except Exception as exc:  # whatever the driver raises, the store is not there
        reasons.append(
            {"check": "store", "detail": f"{type(exc).__name__}: {exc}"[:300]}
        )
    for route, why in gw.router.stuck_routes().items():
        reasons.append(
            {
                "check": "route",
                "route": route,
                "detail": f"no connector can take a message ({why})",
            }
        )
    if reasons:
        return JSONResponse({"status": "unavailable", "reasons": reasons}, 503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    gw.report_health()
    await gw.refresh_backlog()
    gw.metrics.breaker_states(
        {n: b.state.value for n, b in gw.router.breakers().items()}
    )
    return PlainTextResponse(
        gw.metrics.render(), media_type="text/plain; version=0.0.4"
    )


#: The native API's document with the admin API's paths.
OPENAPI = console_openapi.with_admin(openapi.SCHEMA)


async def openapi_json(request: Request) -> Response:
    return JSONResponse(OPENAPI)


#: The page of /docs: the document /openapi.json serves, rendered once.
DOCS_PAGE = apidoc.render(OPENAPI)


async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS_PAGE)


def create_app(
    settings: Settings,
    *,
    connectors: Mapping[str, Connector] | None = None,
    faces: Sequence[ReportFace] | None = None,
    fronts: FrontPlan | None = None,
) -> native.FastSend[Gateway]:
    """The ASGI app of one gateway (the lifespan starts and stops the `Gateway`); its
    ``gateway`` attribute is the `Gateway`. Besides the native API it serves the
    compatible faces: ToBeText (``POST /sms``) and IMS (``/api/imsms/*``). With
    ``fronts``, the lifespan also runs the HTTP front processes and the socket
    they hand their messages to (`umsgate.front`)."""
    gateway = Gateway(settings, connectors=connectors, faces=faces)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        # Routes that connectors asked for (provider callbacks) exist only now.
        app.router.routes.extend(gateway.extra_routes)
        intake: IntakeServer | None = None
        try:
            if fronts is not None:
                intake = gateway.intake_server = IntakeServer(
                    gateway.intake, on_counts=gateway.metrics.add_counts
                )
                await intake.start(fronts.intake)
                gateway.fronts = Fronts(fronts.count, fronts.command)
                gateway.fronts.start()
            yield
        finally:
            # The fronts finish their requests while the intake still commits.
            if gateway.fronts is not None:
                await gateway.fronts.stop()
            if intake is not None:
                await intake.stop()
            await gateway.stop()

    routes: list[BaseRoute] = [
        *native.routes,
        *native_lookup.routes,
        *tobetext_face.routes,
        *imsms_face.routes,
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/console", routes=console_pages.routes),
        Mount("/admin/api", routes=console_api.routes),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    # The faces read it as the ports they declare (checked here by the types).
    ports: tuple[NativeHost, ImsHost, SendHost, ToBeTextHost, ConsoleHost] = (
        gateway,
    ) * 5
    app.state.gateway = ports[0]
    return native.FastSend(app, gateway)
