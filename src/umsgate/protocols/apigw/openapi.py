"""The OpenAPI description of the native API, served at ``/openapi.json`` and rendered
at ``/docs`` (`umsgate.protocols.apigw.apidoc`).

The schema says what the face accepts, as closely as JSON Schema can: lengths, enums,
number patterns, which fields a variant requires. A request it allows is accepted,
except for rules that no schema can state, each named in the descriptions: text
limits in bytes of ``dstCharSet`` (``maxLength`` is exact for ASCII), times relative
to now (``reserveTime``, ``expireTime``), the size of free-form objects as JSON
(buttons, ``templateParam``), file ids that must exist, and the idempotency of
``srcMsgId``. ``tests/integration/native/test_openapi_fuzz.py`` holds the face to it
with schemathesis.
"""

from __future__ import annotations

from umsgate import __version__
from umsgate.oas import json_answer as _json
from umsgate.oas import path_param
from umsgate.protocols.apigw import openapi_lookup

_ERROR = {"$ref": "#/components/schemas/Error"}
_SEND_OK = {"$ref": "#/components/schemas/SendAnswer"}

#: A mobile number the receiver check takes: 010 (less the unassigned 0105 97x-99x
#: block), or the older 011 and 016–019, national or +82.
_MOBILE = (
    r"1(?:0(?:[0-46-9][0-9]{3}|5(?:[0-8][0-9]{2}|9[0-6][0-9]))"
    r"|[16-9][0-9]{3,4})[0-9]{4}"
)
RECEIVER_PATTERN = rf"^(?:0|\+82){_MOBILE}$"
#: A sender: a mobile or geographic number, or a representative 15xx/16xx/18xx one.
SENDER_PATTERN = (
    rf"^(?:0(?:{_MOBILE}|2[1-9][0-9]{{2,3}}[0-9]{{4}}"
    r"|(?:3[1-3]|4[1-4]|5[1-5]|6[1-4])[1-9][0-9]{2,3}[0-9]{4})"
    r"|1(?:5(?:22|33|44|66|77|88|99)|6(?:00|44|6[0168]|70|88)"
    r"|8(?:00|33|55|77|99))[0-9]{4})$"
)
#: A value that is not blank: the face refuses what ``str.strip`` leaves empty, which
#: takes \x1c-\x1f and \x85 too, beside the whitespace of ``\s`` (ECMA 262).
_NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
#: A header value: printable ASCII, not blank.
_HEADER_PATTERN = r"^[!-~](?:[ -~]*[!-~])?$"
#: ``yyyyMMddHHmm[ss]`` in KST (ISO 8601 is accepted too); days past the 28th are left
#: out so that every value the pattern allows is a date.
_TIME_PATTERN = (
    r"^20[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])"
    r"(?:[01][0-9]|2[0-3])[0-5][0-9](?:[0-5][0-9])?$"
)
_FILE_ID = {"type": "string", "pattern": r"^[0-9A-Za-z]{1,20}$"}
_FILE_IDS = {"type": "array", "items": _FILE_ID, "maxItems": 3}


def _text(
    max_length: int, *, required: bool = True, bytes_: bool = False
) -> dict[str, object]:
    schema: dict[str, object] = {"type": "string", "maxLength": max_length}
    if required:
        schema.update(minLength=1, pattern=_NOT_BLANK)
    if bytes_:
        schema["description"] = (
            f"at most {max_length} bytes in dstCharSet (maxLength is exact for ASCII); "
            "a character the charset cannot encode is refused (40012)"
        )
    return schema


def _header(name: str, max_length: int) -> dict[str, object]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": max_length,
            "pattern": _HEADER_PATTERN,
        },
    }


_HEADER_LIMITS = {"originCode": 9, "billCode": 5, "agencyId": 100, "agencyKey": 100}


_UNAUTHORIZED = _json(_ERROR, "token missing, invalid, expired or superseded (40100)")


def _send(summary: str, body_ref: str, headers: list[str]) -> dict[str, object]:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": [_header(h, _HEADER_LIMITS[h]) for h in headers],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": body_ref}}},
            },
            "responses": {
                "200": _json(_SEND_OK, "committed (resultCode 10000)"),
                "400": _json(_ERROR, "invalid field (resultCode 400xx)"),
                "401": _UNAUTHORIZED,
                "429": _json(_ERROR, "TPS exceeded (42900)"),
                "500": _json(_ERROR, "internal error, retry (50000)"),
            },
        }
    }


_common = {
    "srcMsgId": {
        "type": "string",
        "minLength": 1,
        "maxLength": 20,
        "pattern": _NOT_BLANK,
        "description": "the client's key: the same srcMsgId with other content is "
        "refused (40017)",
    },
    "cmpMsgId": {"type": ["string", "null"], "maxLength": 40},
    "dstCharSet": {
        "type": "string",
        "enum": ["euc-kr", "EUC-KR", "cp949", "CP949", "utf-8", "UTF-8"],
        "default": "euc-kr",
    },
    "natCode": {
        "type": "integer",
        "enum": [82],
        "default": 82,
        "description": "domestic (82) only; also accepted as a string and as "
        "countryCode",
    },
    "countryCode": {
        "type": "integer",
        "enum": [82],
        "description": "natCode under the sample's name",
    },
    "reserveTime": {
        "type": "string",
        "pattern": _TIME_PATTERN,
        "description": "umsgate extension: send at this time, yyyyMMddHHmm[ss] (KST) "
        "or ISO 8601; at most 90 days ahead (40012), a past time means now",
    },
    "expireTime": {
        "type": "string",
        "pattern": _TIME_PATTERN,
        "description": "umsgate extension: give up after this time (as reserveTime); "
        "after the sending time and at most 30 days after it (40012)",
    },
}
_numbers = {
    "callback": {
        "type": "string",
        "pattern": SENDER_PATTERN,
        "description": "sender number (40013 when not valid)",
    },
    "receiver": {
        "type": "string",
        "pattern": RECEIVER_PATTERN,
        "description": "mobile number (40015 when not valid)",
    },
}


def _fallback_variant(kind: str, content_bytes: int) -> dict[str, object]:
    required = ["type", "content"]
    properties: dict[str, object] = {
        "type": {"type": "string", "enum": [kind]},
        "content": _text(content_bytes, bytes_=True),
        "originCode": {"type": "string", "maxLength": 9},
    }
    if kind != "SMS":
        required.append("subject")
        properties["subject"] = _text(120, bytes_=True)
    if kind == "MMS":
        required.append("fileIds")
        properties["fileIds"] = {**_FILE_IDS, "minItems": 1}
    return {"type": "object", "required": required, "properties": properties}


_fallback = {
    "description": "the message sent when the first channel fails; subject is "
    "required too when type is LMS or MMS, fileIds when MMS; type N means none",
    "oneOf": [
        _fallback_variant("SMS", 90),
        _fallback_variant("LMS", 2000),
        _fallback_variant("MMS", 2000),
        {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string", "enum": ["N"]}},
        },
    ],
}
#: A fallback is required when usedFallback is true.
_fallback_when_used = {
    "if": {"properties": {"usedFallback": {"const": True}}},
    "then": {"required": ["fallback"]},
}


def _required_when(field: str, value: str, then: str) -> dict[str, object]:
    """``then`` is required when ``field`` is ``value``."""
    return {
        "if": {"required": [field], "properties": {field: {"const": value}}},
        "then": {"required": [then]},
    }


def _with_fallback(
    required: list[str], properties: dict[str, object], rule: dict[str, object]
) -> dict[str, object]:
    """A request of a channel that can fall back to another: ``usedFallback`` is
    required, and ``fallback`` when it is true; ``rule`` is the channel's own."""
    return {
        "type": "object",
        "required": [*required, "usedFallback"],
        "properties": {
            **properties,
            "usedFallback": {"type": "boolean"},
            "fallback": _fallback,
        },
        "allOf": [_fallback_when_used, rule],
    }


_TOKEN_ANSWER = {
    "type": "object",
    "required": ["accessToken", "tokenType", "expiresIn", "reportUrl", "service"],
    "properties": {
        "accessToken": {"type": "string", "minLength": 1},
        "tokenType": {"type": "string", "enum": ["Bearer"]},
        "expiresIn": {"type": "string", "format": "date-time"},
        "reportUrl": {"type": "string"},
        "service": {
            "type": "object",
            "description": "sends per second by channel (SMS, MMS, RCS, KKO)",
            "additionalProperties": {"type": "integer"},
        },
    },
}
_TOKEN_ERROR = {
    "type": "object",
    "required": ["error_description"],
    "properties": {
        "error": {
            "type": "string",
            "enum": ["invalid_request", "invalid_client", "slow_down"],
        },
        "error_description": {"type": "string"},
    },
}
_FILE_ANSWER = {
    "type": "object",
    "required": ["resultCode", "resultMessage"],
    "properties": {
        "resultCode": {"type": "string", "pattern": "^[0-9]{5}$"},
        "resultMessage": {"type": "string"},
        "fileId": {"type": "string"},
        "expireTime": {
            "type": "string",
            "description": "yyyy-MM-ddTHH:mm:ss in KST, no offset",
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$",
        },
    },
}
_FILE_DATA = {
    "type": "object",
    "required": ["fileData"],
    "properties": {
        "fileData": {
            "type": "object",
            "required": ["fileId", "exist"],
            "properties": {
                "fileId": {"type": "string"},
                "fileName": {"type": "string"},
                "fileExtension": {"type": "string"},
                "fileMd5": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                "expireTime": _FILE_ANSWER["properties"]["expireTime"],  # type: ignore[index]
                "exist": {"type": "boolean"},
            },
        }
    },
}

_DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "umsgate native API",
        "version": __version__,
        "description": "The API-Gateway protocol (token, files, "
        "SMS/LMS/MMS/RCS/KakaoTalk, "
        "report check, message lookup). Reports are pushed to the client's report "
        "URL, signed with X-Umsgate-Signature; see docs/api.md.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["resultCode", "resultMessage"],
                "properties": {
                    "resultCode": {"type": "string", "pattern": "^[0-9]{5}$"},
                    "resultMessage": {"type": "string"},
                },
            },
            "SendAnswer": {
                "type": "object",
                "required": [
                    "resultCode",
                    "resultMessage",
                    "transferTime",
                    "umsMsgId",
                    "srcMsgId",
                ],
                "properties": {
                    "resultCode": {"type": "string", "enum": ["10000"]},
                    "resultMessage": {"type": "string"},
                    "transferTime": {"type": "string", "format": "date-time"},
                    "umsMsgId": {"type": "string", "pattern": "^[0-9]{1,19}$"},
                    "srcMsgId": {"type": "string"},
                },
            },
            "Sms": {
                "type": "object",
                "required": ["srcMsgId", "callback", "content", "receiver"],
                "properties": {
                    **_common,
                    **_numbers,
                    "content": _text(90, bytes_=True),
                },
            },
            "Mms": {
                "type": "object",
                "required": ["srcMsgId", "callback", "receiver"],
                "description": "an LMS (no fileIds) needs content; an MMS has 1-3 "
                "fileIds of files the client uploaded that have not expired (40016)",
                "properties": {
                    **_common,
                    **_numbers,
                    "subject": _text(120, required=False, bytes_=True),
                    "content": _text(2000, required=False, bytes_=True),
                    "fileIds": _FILE_IDS,
                },
                "anyOf": [
                    {
                        "required": ["fileIds"],
                        "properties": {"fileIds": {"minItems": 1}},
                    },
                    {
                        "required": ["content"],
                        "properties": {"content": {"pattern": _NOT_BLANK}},
                    },
                ],
            },
            "Rcs": _with_fallback(
                [
                    "srcMsgId",
                    "chatbotId",
                    "brandKey",
                    "header",
                    "rcsType",
                    "receiver",
                    "templateId",
                    "templateParam",
                    "copyAllowed",
                ],
                {
                    **_common,
                    "type": {"type": "string", "enum": ["INFO", "ETC"]},
                    "chatbotId": {
                        **_numbers["callback"],
                        "description": "the chatbot's sender number (40013 when "
                        "not valid)",
                    },
                    "brandKey": _text(100),
                    "header": {"type": "string", "enum": ["0", "1"]},
                    "footer": {
                        "type": "string",
                        "pattern": r"^[0-9-]{1,20}$",
                        "description": "opt-out number, required when header is 1",
                    },
                    "rcsType": _text(20),
                    "receiver": _numbers["receiver"],
                    "expiryOption": {"type": "string", "enum": ["1", "2", "3", "4"]},
                    "templateId": _text(100),
                    "templateParam": {
                        "type": "object",
                        "description": "at most 8000 bytes as JSON (also accepted "
                        "as a JSON string)",
                    },
                    "buttons": {
                        "type": "array",
                        "items": {"type": "object"},
                        "maxItems": 11,
                        "description": "at most 4000 bytes as JSON",
                    },
                    "copyAllowed": {"type": "boolean"},
                },
                _required_when("header", "1", "footer"),
            ),
            "Kko": _with_fallback(
                [
                    "srcMsgId",
                    "msgType",
                    "callback",
                    "receiver",
                    "content",
                    "profileKey",
                    "adFlag",
                ],
                {
                    **_common,
                    **_numbers,
                    "msgType": {"type": "string", "enum": ["AT", "FT"]},
                    "title": _text(100, required=False),
                    "content": {
                        **_text(1000),
                        "description": "at most 1000 characters, each one the "
                        "charset can encode (40012)",
                    },
                    "kplusId": {"type": ["string", "null"], "maxLength": 100},
                    "profileKey": _text(100),
                    "templateCode": {
                        **_text(32),
                        "description": "required when msgType is AT",
                    },
                    "wide": {"type": "string", "enum": ["Y", "N"], "default": "N"},
                    "imageLink": {"type": "string", "maxLength": 255},
                    "imageUrl": {"type": "string", "maxLength": 255},
                    "imageFlag": {"type": "boolean"},
                    "buttons": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "type"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "type": {"type": "string", "minLength": 1},
                            },
                        },
                        "maxItems": 5,
                        "description": "at most 4000 bytes as JSON",
                    },
                    "button": {
                        "$ref": "#/components/schemas/Kko/properties/buttons",
                        "description": "buttons under the sample's name",
                    },
                    "adFlag": {"type": "boolean"},
                },
                _required_when("msgType", "AT", "templateCode"),
            ),
            "Report": {
                "type": "object",
                "required": [
                    "cmpMsgId",
                    "srcMsgId",
                    "umsMsgId",
                    "channel",
                    "resultCode",
                    "serviceProvider",
                    "srcSndDttm",
                    "pfmRcvDttm",
                    "pfmSndDttm",
                ],
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
            **openapi_lookup.SCHEMAS,
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
                                    name: {
                                        "type": "string",
                                        "minLength": 1,
                                        "maxLength": 200,
                                    }
                                    for name in (
                                        "clientId",
                                        "clientSecret",
                                        "clientKey",
                                    )
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_TOKEN_ANSWER, "the token, its expiry and service"),
                    "400": _json(
                        _TOKEN_ERROR, "invalid_request: a field missing or malformed"
                    ),
                    "401": _json(_TOKEN_ERROR, "invalid_client"),
                    "404": _json(_TOKEN_ERROR, "wrong clientKey"),
                    "429": {
                        **_json(
                            _TOKEN_ERROR,
                            "slow_down: too many failed attempts by this client id "
                            "or address (or too many checks waiting); nothing was "
                            "checked",
                        ),
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
                                "required": ["img"],
                                "properties": {
                                    "img": {
                                        "type": "string",
                                        "format": "binary",
                                        "contentMediaType": "image/jpeg",
                                        "description": "a JPEG image (41001 when "
                                        "it is not one)",
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_FILE_ANSWER, "10001 registered"),
                    "400": _json(
                        _FILE_ANSWER,
                        "41000 already registered (fileId and expireTime "
                        "returned), 41001 not JPEG, 41002 too large, 400xx malformed",
                    ),
                    "401": _UNAUTHORIZED,
                },
            }
        },
        "/v1/storage/{fileId}": {
            "get": {
                "summary": "Check a file",
                "security": [{"bearer": []}],
                "parameters": [path_param("fileId")],
                "responses": {
                    "200": _json(_FILE_DATA, "fileData (exist false for unknown ids)"),
                    "401": _UNAUTHORIZED,
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
                    path_param("channel", enum=["sms", "mms", "rcs", "kko"])
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "items": {"type": "string", "maxLength": 40},
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
                    "400": _json(_ERROR, "40018: not a list of ids, or too many"),
                    "401": _UNAUTHORIZED,
                    "429": _json(_ERROR, "42900: too frequent"),
                },
            }
        },
        **openapi_lookup.PATHS,
    },
}

#: The document, typed as what it is: a JSON object. (Left to itself, mypy infers
#: the join of the literal's values, ``Collection[str]``, which says nothing.)
SCHEMA: dict[str, object] = dict(_DOCUMENT)
