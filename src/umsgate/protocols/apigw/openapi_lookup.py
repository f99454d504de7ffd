"""The OpenAPI description of the message lookup (``GET /v1/messages`` and
``GET /v1/messages/{umsMsgId}``), merged into `umsgate.protocols.apigw.openapi`."""

from __future__ import annotations

from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel
from umsgate.oas import json_answer as _json
from umsgate.oas import path_param
from umsgate.oas import query_param as _query
from umsgate.store import lookup

_ERROR = {"$ref": "#/components/schemas/Error"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_TEXT = {"type": ["string", "null"]}


SCHEMAS: dict[str, object] = {
    "Message": {
        "type": "object",
        "description": "A message (its content is not shown). Times are ISO 8601 UTC.",
        "properties": {
            "umsMsgId": {"type": "string"},
            "srcMsgId": {"type": "string"},
            "channel": {"type": "string", "enum": list(Channel)},
            "status": {"type": "string", "enum": list(Status)},
            "callback": {"type": "string", "description": "Sender number, E.164."},
            "receiver": {"type": "string", "description": "E.164."},
            "resultCode": {**_TEXT, "description": "Unified result code."},
            "rawCode": {**_TEXT, "description": "The provider's own code."},
            "resultMessage": _TEXT,
            "connector": {**_TEXT, "description": "The connector that sent it last."},
            "providerMsgId": _TEXT,
            "carrier": {"type": "string"},
            "attempts": {"type": "integer"},
            "segments": {"type": "integer"},
            "createdAt": {"type": "string", "format": "date-time"},
            "sentAt": _TIME,
            "doneAt": _TIME,
            "expiresAt": {"type": "string", "format": "date-time"},
            "fallbackOf": {
                **_TEXT,
                "description": "umsMsgId of the message this one is the fallback of.",
            },
            "fallbackTo": {
                **_TEXT,
                "description": "umsMsgId of the fallback made from this message.",
            },
        },
    },
    "Event": {
        "type": "object",
        "description": "One step of a message's timeline: a status change (each "
        "attempt and its connector, a provider's answer with its raw code in "
        "brackets) or a webhook try and its outcome.",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "type": {"type": "string", "enum": ["status", "webhook"]},
            "status": {**_TEXT, "description": "The new status (status steps)."},
            "code": {**_TEXT, "description": "Unified result code of the step."},
            "detail": {"type": "string"},
        },
    },
    "MessageDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/Message"},
            {
                "type": "object",
                "properties": {
                    "webhook": {
                        "type": ["object", "null"],
                        "description": "The push of the message's report.",
                        "properties": {
                            "state": {
                                "type": "string",
                                "enum": ["pending", "done", "failed", "none"],
                            },
                            "attempts": {"type": "integer"},
                            "lastError": {"type": "string"},
                        },
                    },
                    "events": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Event"},
                    },
                },
            },
        ]
    },
    "MessagePage": {
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Message"},
            },
            "nextCursor": {
                **_TEXT,
                "description": "Pass as cursor for the next page; null on the last.",
            },
        },
    },
}


PATHS: dict[str, object] = {
    "/v1/messages/{umsMsgId}": {
        "get": {
            "summary": "A message and its whole timeline",
            "security": [{"bearer": []}],
            "parameters": [path_param("umsMsgId")],
            "responses": {
                "200": _json(
                    {"$ref": "#/components/schemas/MessageDetail"}, "the message"
                ),
                "401": _json(_ERROR, "bad token (40100)"),
                "404": _json(_ERROR, "no such message among the client's own (40400)"),
            },
        }
    },
    "/v1/messages": {
        "get": {
            "summary": "Search the client's messages, newest first, a page at a time",
            "security": [{"bearer": []}],
            "parameters": [
                _query("srcMsgId", "The client's own message id.", maxLength=40),
                _query(
                    "receiver",
                    "A receiver number in any form the sends take.",
                    maxLength=20,
                ),
                _query("status", "Message status.", enum=list(Status)),
                _query("channel", "Channel.", enum=list(Channel)),
                _query(
                    "from",
                    "Accepted at or after (ISO 8601; no offset: KST; or "
                    "yyyyMMddHHmm[ss] KST).",
                ),
                _query("to", "Accepted before (same forms as from)."),
                _query(
                    "limit",
                    f"Page size (default {lookup.DEFAULT_LIMIT}).",
                    type="integer",
                    minimum=1,
                    maximum=lookup.MAX_LIMIT,
                ),
                _query("cursor", "nextCursor of the previous page."),
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/MessagePage"}, "a page"),
                "400": _json(
                    _ERROR,
                    "a parameter out of its range, unknown, or a bad cursor (400xx)",
                ),
                "401": _json(_ERROR, "bad token (40100)"),
            },
        }
    },
}
