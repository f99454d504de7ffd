"""The OpenAPI description of the native API, served at ``/openapi.json`` and rendered
at ``/docs``."""

from __future__ import annotations

from typing import Any

from umsgate import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
_SEND_OK = {"$ref": "#/components/schemas/SendAnswer"}


def _send(summary: str, body_ref: str, headers: list[str]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": [
                {
                    "name": h,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                }
                for h in headers
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": body_ref}}},
            },
            "responses": {
                "200": {
                    "description": "committed (resultCode 10000)",
                    "content": {"application/json": {"schema": _SEND_OK}},
                },
                "400": {
                    "description": "invalid field (resultCode 400xx)",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "401": {
                    "description": "bad token (40100)",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "429": {
                    "description": "TPS exceeded (42900)",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            },
        }
    }


_common = {
    "srcMsgId": {"type": "string", "maxLength": 20},
    "cmpMsgId": {"type": "string", "maxLength": 40},
    "dstCharSet": {"type": "string", "default": "euc-kr"},
    "natCode": {"type": "integer", "default": 82},
    "reserveTime": {
        "type": "string",
        "description": "umsgate extension: yyyyMMddHHmm (KST) or ISO 8601",
    },
    "expireTime": {
        "type": "string",
        "description": "umsgate extension: give up after this time",
    },
}
_fallback = {
    "type": "object",
    "required": ["type", "content"],
    "description": "subject is required too when type is LMS or MMS, fileIds when MMS",
    "properties": {
        "type": {"type": "string", "enum": ["SMS", "LMS", "MMS", "N"]},
        "subject": {"type": "string"},
        "content": {"type": "string"},
        "fileIds": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "originCode": {"type": "string"},
    },
}

SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "umsgate native API",
        "version": __version__,
        "description": "The API-Gateway protocol (token, files, "
        "SMS/LMS/MMS/RCS/KakaoTalk, "
        "report check). Reports are pushed to the client's report URL, signed with "
        "X-Umsgate-Signature; see docs/api.md.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "resultCode": {"type": "string"},
                    "resultMessage": {"type": "string"},
                },
            },
            "SendAnswer": {
                "type": "object",
                "properties": {
                    k: {"type": "string"}
                    for k in (
                        "resultCode",
                        "resultMessage",
                        "transferTime",
                        "umsMsgId",
                        "srcMsgId",
                    )
                },
            },
            "Sms": {
                "type": "object",
                "required": ["srcMsgId", "callback", "content", "receiver"],
                "properties": {
                    **_common,
                    "callback": {"type": "string"},
                    "receiver": {"type": "string"},
                    "content": {
                        "type": "string",
                        "description": "≤ 90 bytes in dstCharSet",
                    },
                },
            },
            "Mms": {
                "type": "object",
                "required": ["srcMsgId", "callback", "receiver"],
                "properties": {
                    **_common,
                    "callback": {"type": "string"},
                    "receiver": {"type": "string"},
                    "subject": {"type": "string"},
                    "content": {"type": "string"},
                    "fileIds": {
                        "type": "array",
                        "items": {"type": "string"},
                        "maxItems": 3,
                    },
                },
            },
            "Rcs": {
                "type": "object",
                "required": [
                    "srcMsgId",
                    "chatbotId",
                    "brandKey",
                    "header",
                    "rcsType",
                    "receiver",
                    "templateId",
                    "templateParam",
                    "copyAllowed",
                    "usedFallback",
                ],
                "properties": {
                    **_common,
                    "type": {"type": "string", "enum": ["INFO", "ETC"]},
                    "chatbotId": {"type": "string"},
                    "brandKey": {"type": "string"},
                    "header": {"type": "string", "enum": ["0", "1"]},
                    "footer": {"type": "string"},
                    "rcsType": {"type": "string"},
                    "receiver": {"type": "string"},
                    "expiryOption": {"type": "string", "enum": ["1", "2", "3", "4"]},
                    "templateId": {"type": "string"},
                    "templateParam": {"type": "object"},
                    "buttons": {"type": "array", "items": {"type": "object"}},
                    "copyAllowed": {"type": "boolean"},
                    "usedFallback": {"type": "boolean"},
                    "fallback": _fallback,
                },
            },
            "Kko": {
                "type": "object",
                "required": [
                    "srcMsgId",
                    "msgType",
                    "callback",
                    "receiver",
                    "content",
                    "profileKey",
                    "adFlag",
                    "usedFallback",
                ],
                "properties": {
                    **_common,
                    "msgType": {"type": "string", "enum": ["AT", "FT"]},
                    "callback": {"type": "string"},
                    "receiver": {"type": "string"},
                    "title": {"type": "string"},
                    "content": {"type": "string"},
                    "profileKey": {"type": "string"},
                    "templateCode": {"type": "string"},
                    "buttons": {
                        "type": "array",
                        "items": {"type": "object"},
                        "maxItems": 5,
                    },
                    "adFlag": {"type": "boolean"},
                    "usedFallback": {"type": "boolean"},
                    "fallback": _fallback,
                },
            },
            "Report": {
                "type": "object",
                "properties": {
                    k: {"type": "string"}
                    for k in (
                        "cmpMsgId",
                        "srcMsgId",
                        "umsMsgId",
                        "channel",
                        "resultCode",
                        "resultMessage",
                        "serviceProvider",
                        "srcSndDttm",
                        "pfmRcvDttm",
                        "pfmSndDttm",
                    )
                },
            },
        },
    },
    "paths": {
        "/v1/auth/token": {
            "post": {
                "summary": "Issue an access token",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["clientId", "clientSecret", "clientKey"],
                                "properties": {
                                    "clientId": {"type": "string"},
                                    "clientSecret": {"type": "string"},
                                    "clientKey": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "accessToken, tokenType, expiresIn, "
                        "reportUrl, service"
                    },
                    "401": {"description": "invalid_client"},
                    "404": {"description": "wrong clientKey"},
                    "429": {
                        "description": "slow_down: too many failed attempts by "
                        "this client id or address (or too many checks waiting); "
                        "nothing was checked",
                        "headers": {
                            "Retry-After": {
                                "description": "Seconds before another attempt "
                                "can be checked",
                                "schema": {"type": "integer", "minimum": 1},
                            }
                        },
                    },
                },
            }
        },
        "/v1/storage/file": {
            "post": {
                "summary": "Upload a JPEG (≤ 1,048,576 bytes) for MMS",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "img": {"type": "string", "format": "binary"}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "10001 registered"},
                    "400": {
                        "description": "41000 already registered (fileId "
                        "returned), 41001 not JPEG, 41002 too large"
                    },
                },
            }
        },
        "/v1/storage/{fileId}": {
            "get": {
                "summary": "Check a file",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "fileId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {"description": "fileData (exist false for unknown ids)"}
                },
            }
        },
        "/v1/message/sms": _send(
            "Send an SMS", "#/components/schemas/Sms", ["originCode", "billCode"]
        ),
        "/v1/message/mms": _send(
            "Send an LMS (no files) or MMS (1–3 fileIds)",
            "#/components/schemas/Mms",
            ["originCode", "billCode"],
        ),
        "/v1/message/rcs": _send(
            "Send an RCS message",
            "#/components/schemas/Rcs",
            ["agencyId", "agencyKey", "billCode"],
        ),
        "/v1/message/kko": _send(
            "Send a KakaoTalk message",
            "#/components/schemas/Kko",
            ["agencyId", "agencyKey", "billCode"],
        ),
        "/v1/agent/rpt/{channel}": {
            "post": {
                "summary": "Report check: up to 1000 umsMsgIds, once per 30 s",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "channel",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "enum": ["sms", "mms", "rcs", "kko"],
                        },
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "items": {"type": "string"},
                                "maxItems": 1000,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "reports",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Report"},
                                }
                            }
                        },
                    },
                    "400": {"description": "40018"},
                    "429": {"description": "42900 too frequent"},
                },
            }
        },
    },
}

DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>umsgate API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<noscript>The schema is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>
"""
