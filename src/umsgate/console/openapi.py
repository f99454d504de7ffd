"""The admin API's part of the OpenAPI document served at ``/openapi.json``
(merged into the native API's by `with_admin`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TypeVar

from umsgate.oas import json_answer
from umsgate.oas import path_param as _path
from umsgate.oas import query_param as _query

_ERROR = {"$ref": "#/components/schemas/AdminError"}
_OBJ: dict[str, object] = {"type": "object", "additionalProperties": True}
SECURITY: list[dict[str, list[str]]] = [
    {"operatorToken": []},
    {"operatorSession": [], "csrfHeader": []},
]
TAG = "admin"

#: A part of the document: an object or a list.
_C = TypeVar("_C", dict[str, object], list[object])


def _json(
    description: str, schema: Mapping[str, object] | None = None
) -> dict[str, object]:
    return json_answer(dict(schema or _OBJ), description)


def _op(
    summary: str,
    ok: dict[str, object],
    *,
    params: list[dict[str, object]] | None = None,
    body: Mapping[str, object] | None = None,
    changes: bool = False,
    not_found: bool = False,
    conflict: str = "",
    status: str = "200",
) -> dict[str, object]:
    responses: dict[str, object] = {
        status: ok,
        "400": _json("bad input", _ERROR),
        "401": _json("no operator session or token", _ERROR),
    }
    if changes:
        responses["403"] = _json(
            "a session's request without its X-CSRF-Token header", _ERROR
        )
    if not_found:
        responses["404"] = _json("no such thing", _ERROR)
    if conflict:
        responses["409"] = _json(conflict, _ERROR)
    out: dict[str, object] = {
        "tags": [TAG],
        "summary": summary,
        "security": SECURITY,
        "responses": responses,
    }
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": dict(body)}},
        }
    return out


_TPS = {
    "type": "object",
    "description": "messages per second by channel key (SMS, MMS, RCS, KKO)",
    "additionalProperties": {"type": "integer", "minimum": 1},
}

PATHS: dict[str, object] = {
    "/admin/api/stats": {
        "get": _op(
            "Dashboard figures: the last hour per minute (accepted by channel, "
            "delivered/failed/expired by channel and connector), the delivery "
            "ratio, the backlog by status and the webhook backlog",
            _json("the figures"),
        )
    },
    "/admin/api/connectors": {
        "get": _op(
            "Connectors live (up or stopped and why, breaker state and reason, in "
            "flight, TPS, queued) and the routes",
            _json("connectors and routes"),
        )
    },
    "/admin/api/webhooks": {
        "get": _op(
            "Webhook backlog per client (pending, failing, given up in the last "
            "day) and the reports whose webhook failed",
            _json("the backlog"),
            params=[_query("clientId", "only this client's reports")],
        )
    },
    "/admin/api/webhooks/{reportId}/resend": {
        "post": _op(
            "Send a report's webhook again, now",
            _json("queued again"),
            params=[_path("reportId", "the report's id")],
            changes=True,
            not_found=True,
        )
    },
    "/admin/api/clients": {
        "get": _op("Clients", _json("the clients")),
        "post": _op(
            "Create a client; the answer holds its secret and key (shown only "
            "this once)",
            _json("created"),
            body={
                "type": "object",
                "required": ["clientId"],
                "properties": {
                    "clientId": {"type": "string", "maxLength": 64},
                    "reportUrl": {"type": "string", "format": "uri"},
                    "tps": _TPS,
                },
            },
            changes=True,
            status="201",
            conflict="a client with this id exists already",
        ),
    },
    "/admin/api/clients/{clientId}": {
        "patch": _op(
            "Change a client's TPS or report URL, or disable or enable it",
            _json("the client"),
            params=[_path("clientId", "the client")],
            body={
                "type": "object",
                "properties": {
                    "reportUrl": {"type": "string"},
                    "tps": _TPS,
                    "disabled": {"type": "boolean"},
                },
            },
            changes=True,
            not_found=True,
        )
    },
    "/admin/api/clients/{clientId}/secret": {
        "post": _op(
            "Give a client a new secret (its tokens stop working); shown only in "
            "this answer",
            _json("the new secret"),
            params=[_path("clientId", "the client")],
            changes=True,
            not_found=True,
        )
    },
    "/admin/api/messages": {
        "get": _op(
            "Search messages of every client, newest first",
            _json("a page of messages and the cursor of the next (`next`)"),
            params=[
                _query("clientId", "one client"),
                _query("srcMsgId", "the client's message id"),
                _query("receiver", "the receiver number as stored"),
                _query("status", "ACCEPTED, QUEUED, SENDING, SENT, DELIVERED, …"),
                _query("channel", "SMS, LMS, MMS, RCS or KKO"),
                _query("since", "created at or after (epoch seconds)", type="number"),
                _query("until", "created before (epoch seconds)", type="number"),
                _query("before", "cursor: the `next` of the previous page"),
                _query("limit", "page size, 1..200 (default 50)", type="integer"),
            ],
        )
    },
    "/admin/api/messages/{umsMsgId}": {
        "get": _op(
            "One message of any client with its timeline (events in order) and "
            "its webhook reports",
            _json("the message"),
            params=[_path("umsMsgId", "the message")],
            not_found=True,
        )
    },
}

COMPONENTS: dict[str, dict[str, object]] = {
    "securitySchemes": {
        "operatorToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "`umsgate admin token --username U --ttl 1h`",
        },
        "operatorSession": {
            "type": "apiKey",
            "in": "cookie",
            "name": "umsgate_session",
            "description": "the console's login at /console/login",
        },
        "csrfHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": "the session's CSRF token; required on every change "
            "made with the session cookie",
        },
    },
    "schemas": {
        "AdminError": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}


def with_admin(schema: Mapping[str, object]) -> dict[str, object]:
    """``schema`` with the admin API's paths, security schemes and schemas."""
    out = copy.deepcopy(dict(schema))
    _member(out, "paths", dict).update(copy.deepcopy(PATHS))
    components = _member(out, "components", dict)
    for key, values in COMPONENTS.items():
        _member(components, key, dict).update(copy.deepcopy(values))
    tags = _member(out, "tags", list)
    tags.append({"name": TAG, "description": "The admin API of the operator console"})
    return out


def _member(doc: dict[str, object], key: str, kind: type[_C]) -> _C:
    """``doc[key]``, made an empty ``kind`` when absent."""
    value = doc.setdefault(key, kind())
    if not isinstance(value, kind):
        raise TypeError(f"{key} of the schema is not a {kind.__name__}")
    return value
