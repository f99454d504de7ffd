"""Pieces of the OpenAPI document served at ``/openapi.json``, for the modules that
write its parts: the native API's (`umsgate.protocols.apigw.openapi`,
`umsgate.protocols.apigw.openapi_lookup`) and the admin API's
(`umsgate.console.openapi`)."""

from __future__ import annotations

from collections.abc import Mapping


def json_answer(schema: Mapping[str, object], description: str) -> dict[str, object]:
    """An answer whose body is JSON of ``schema``."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def path_param(name: str, description: str = "", **schema: object) -> dict[str, object]:
    """A parameter in the path: a string, narrowed by ``schema``."""
    param: dict[str, object] = {"name": name, "in": "path", "required": True}
    if description:
        param["description"] = description
    param["schema"] = {"type": "string", **schema}
    return param


def query_param(name: str, description: str, **schema: object) -> dict[str, object]:
    """An optional parameter in the query: a string unless ``schema`` says
    another ``type``."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }
