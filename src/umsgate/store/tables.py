"""The schema, in SQLAlchemy Core. Times are UTC epoch seconds (double precision):
portable between SQLite and PostgreSQL, cheap to compare, and free of the two
dialects' different datetime handling. JSON documents are stored as text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

clients = Table(
    "clients",
    metadata,
    Column("id", String(64), primary_key=True),
    #: scrypt hash of the client secret: "scrypt$n$r$p$salt$hash".
    Column("secret_hash", String(200), nullable=False),
    #: SHA-256 hex of the clientKey.
    Column("key_hash", String(64), nullable=False),
    #: HMAC key for webhook signatures (hex), derived from the secret or made by a
    #: rotation (see docs/api.md); sealed (``fernet:…``) when the operator
    #: configured a secret key (`umsgate.sealing`).
    Column("signing_key", String(255), nullable=False),
    #: The key a rotation replaced, stored as ``signing_key``; it signs beside the
    #: new one until ``previous_key_until`` (epoch seconds). "" when none.
    Column("previous_signing_key", String(255), nullable=False, server_default=""),
    Column("previous_key_until", Float, nullable=False, server_default="0"),
    Column("report_url", String(2000), nullable=False, server_default=""),
    #: JSON object: channel TPS key → messages per second.
    Column("tps", Text, nullable=False),
    #: Raised on every change of a credential (secret, key, a face's token or key);
    #: tokens carry it.
    Column("version", Integer, nullable=False, server_default="1"),
    Column("last_report_check", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    #: scrypt hash of the client's ToBeText ``token`` (the ``Cid`` is the client id);
    #: empty when the ToBeText face is closed to it.
    Column("tobetext_token_hash", String(200), nullable=False, server_default=""),
    #: SHA-256 hex of the client's IMS ``X-API-KEY`` (the key alone names the
    #: client, so it is looked up by its digest); NULL when the IMS face is closed.
    Column("imsms_key_hash", String(64), nullable=True),
    #: JSON object: IMS ``imsAgentId`` → sender number (E.164, or "" for none);
    #: empty means any agent id, with no sender.
    Column("imsms_agents", Text, nullable=False, server_default="{}"),
    #: Seconds within which the same receiver and content is refused as a duplicate
    #: send (the seeds' codes 74/84); 0: not blocked.
    Column("dup_window", Float, nullable=False, server_default="0"),
    #: 1 when an operator disabled the client: no token is issued to it and its
    #: version was raised, so none issued before works.
    Column("disabled", Integer, nullable=False, server_default="0"),
    Index(None, "imsms_key_hash", unique=True),
)

tokens = Table(
    "tokens",
    metadata,
    #: SHA-256 hex of the token; the token itself is never stored.
    Column("hash", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Index(None, "expires_at"),
)

files = Table(
    "files",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("md5", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index(None, "client_id", "md5"),
    Index(None, "expires_at"),
)

messages = Table(
    "messages",
    metadata,
    #: The umsMsgId.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("client_id", String(64), nullable=False),
    Column("src_msg_id", String(40), nullable=False),
    #: 0 for a client's message, 1 for the fallback made from it.
    Column("kind", Integer, nullable=False, server_default="0"),
    Column("parent_id", BigInteger, nullable=True),
    Column("cmp_msg_id", String(40), nullable=False, server_default=""),
    Column("channel", String(3), nullable=False),
    Column("status", String(10), nullable=False),
    Column("sender", String(20), nullable=False),
    Column("receiver", String(20), nullable=False),
    Column("subject", Text, nullable=False, server_default=""),
    Column("content", Text, nullable=False),
    Column("charset", String(10), nullable=False),
    Column("file_ids", Text, nullable=False, server_default="[]"),
    Column("extra", Text, nullable=False, server_default="{}"),
    Column("fallback", Text, nullable=True),
    #: SHA-256 of the validated request: a repeat with another hash is refused.
    Column("content_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("connector", String(64), nullable=True),
    Column("provider_msg_id", String(100), nullable=True),
    #: Node that holds the claim (SENDING) or sent it (SENT).
    Column("owner", String(40), nullable=True),
    Column("claimed_at", Float, nullable=True),
    Column("sent_at", Float, nullable=True),
    Column("done_at", Float, nullable=True),
    Column("result_code", String(8), nullable=True),
    Column("raw_code", String(60), nullable=True),
    Column("result_message", Text, nullable=True),
    Column("carrier", String(8), nullable=False, server_default=""),
    Column("segments", Integer, nullable=False, server_default="1"),
    UniqueConstraint("client_id", "src_msg_id", "kind"),
    Index(None, "status", "due_at"),
    # The console's dashboard reads the last hour by these two (index ranges on
    # recent times); done_at is set only when a message ends, so accepting a
    # message does not touch the second.
    Index(None, "created_at"),
    # Searches by receiver, newest first (probed once per client across clients).
    Index(None, "client_id", "receiver", "id"),
    Index(
        None,
        "done_at",
        sqlite_where=text("done_at IS NOT NULL"),
        postgresql_where=text("done_at IS NOT NULL"),
    ),
    # Partial: a message has no provider id until it is sent, and only fallbacks
    # have a parent, so accepting a message does not touch these two (the lookups
    # compare the column, which implies the condition for both databases' planners).
    Index(
        None,
        "connector",
        "provider_msg_id",
        sqlite_where=text("provider_msg_id IS NOT NULL"),
        postgresql_where=text("provider_msg_id IS NOT NULL"),
    ),
    Index(
        None,
        "parent_id",
        sqlite_where=text("parent_id IS NOT NULL"),
        postgresql_where=text("parent_id IS NOT NULL"),
    ),
    # Message lookup (`umsgate.store.lookup`): a client's messages newest first
    # (those to one receiver use the receiver index above).
    Index(None, "client_id", "id"),
)

#: Provider ids of the parts of a message sent in several parts (SMPP long messages).
message_parts = Table(
    "message_parts",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("provider_msg_id", String(100), primary_key=True),
    Column("message_id", BigInteger, nullable=False),
    Column("part", Integer, nullable=False),
    Column("result_code", String(8), nullable=True),
    Column("raw_code", String(60), nullable=True),
    Index(None, "message_id"),
)

events = Table(
    "events",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("message_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Column("status", String(10), nullable=False),
    Column("code", String(8), nullable=True),
    Column("detail", Text, nullable=False, server_default=""),
    Index(None, "message_id"),
)

reports = Table(
    "reports",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("message_id", BigInteger, nullable=False),
    Column("client_id", String(64), nullable=False),
    #: The umsMsgId the client knows (a fallback's report carries its parent's).
    Column("ums_msg_id", BigInteger, nullable=False),
    #: Channel of the report, and of the client's own message.
    Column("channel", String(3), nullable=False),
    Column("origin_channel", String(3), nullable=False),
    #: The report as the client receives it (JSON; a face's own format, see ``face``).
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    #: pending → done | failed; none when the client has no report URL.
    Column("webhook_state", String(8), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", Float, nullable=False),
    Column("last_error", Text, nullable=False, server_default=""),
    #: The face the message came in by ("" for the native API); ``body`` is then in
    #: that face's format and is POSTed to ``target_url`` (no URL: nothing to push).
    Column("face", String(16), nullable=False, server_default=""),
    Column("target_url", String(2000), nullable=False, server_default=""),
    Index(None, "webhook_state", "next_at"),
    Index(None, "client_id", "ums_msg_id"),
)

#: Reports whose provider id matched no message yet (a receipt that overtook the
#: record of its submit); matched again until they find their message.
pending_reports = Table(
    "pending_reports",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("connector", String(64), nullable=False),
    Column("provider_msg_id", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # The batch that records a submit deletes the reports parked for its ids.
    Index(None, "connector", "provider_msg_id"),
)

#: Live gateway processes; the slot makes message ids unique across them.
nodes = Table(
    "nodes",
    metadata,
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("node_id", String(40), nullable=False),
    Column("heartbeat", Float, nullable=False),
    Column("started_at", Float, nullable=False),
)

#: The send schedule of each paced connector, shared by every node (see
#: `umsgate.engine.pacing`): the start of its next free send slot.
connector_pace = Table(
    "connector_pace",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("tat", Float, nullable=False),
)

#: The last accepted message of each (client, receiver, content digest) of clients
#: that block duplicate sends (see `umsgate.engine.duplicates`); rows past
#: ``expires_at`` block nothing and are purged.
send_guards = Table(
    "send_guards",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("receiver", String(20), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("src_msg_id", String(40), nullable=False),
    #: When the message was accepted, and the end of its window then.
    Column("at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index(None, "expires_at"),
)

#: People who run the gateway from the console or the admin API.
operators = Table(
    "operators",
    metadata,
    Column("username", String(64), primary_key=True),
    #: scrypt hash of the password, as for client secrets: "scrypt$n$r$p$salt$hash".
    Column("password_hash", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

#: Console logins. The cookie holds a random id; only its SHA-256 is stored.
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    #: The session's CSRF token (sent back in forms and the X-CSRF-Token header).
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    #: The absolute end (login + console.session_max).
    Column("expires_at", Float, nullable=False),
    Index(None, "username"),
    Index(None, "expires_at"),
)

#: Bearer tokens of operators' scripts (only their SHA-256 is stored).
operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index(None, "username"),
    Index(None, "expires_at"),
)
