"""JSON schemas for the record's channels (MCAP ``jsonschema`` encoding, as Foxglove reads them).

Most channels get a schema inferred from the JSON shape of their first message: numbers also allow
``null`` because ``to_jsonable`` writes NaN as ``null``. The camera channel uses Foxglove's own
``foxglove.CompressedImage`` schema so Foxglove shows the frames in its Image panel.
"""

from __future__ import annotations

from typing import Any

#: Foxglove's ``foxglove.CompressedImage`` (JSON flavour): ``data`` is base64, ``format`` e.g. "jpeg".
COMPRESSED_IMAGE_SCHEMA_NAME = "foxglove.CompressedImage"
COMPRESSED_IMAGE_SCHEMA: dict[str, Any] = {
    "title": COMPRESSED_IMAGE_SCHEMA_NAME,
    "description": "A compressed image",
    "type": "object",
    "properties": {
        "timestamp": {
            "type": "object",
            "title": "time",
            "properties": {
                "sec": {"type": "integer", "minimum": 0},
                "nsec": {"type": "integer", "minimum": 0, "maximum": 999999999},
            },
        },
        "frame_id": {"type": "string"},
        "data": {"type": "string", "contentEncoding": "base64"},
        "format": {"type": "string"},
        "stamp_s": {"type": "number", "description": "stack monotonic time of the frame (s)"},
    },
}

#: Deepest nesting the inference walks; below it any JSON value is accepted.
_MAX_DEPTH = 6


def infer_schema(value: Any, *, title: str | None = None, depth: int = 0) -> dict[str, Any]:
    """A permissive JSON schema describing ``value`` (a JSON-compatible object).

    Objects list their properties (no ``required``: later messages may omit optional fields),
    arrays describe their items from the first element, numbers accept ``null`` (NaN in the stack).
    """
    schema: dict[str, Any]
    if depth > _MAX_DEPTH:
        schema = {}
    elif isinstance(value, bool):
        schema = {"type": "boolean"}
    elif isinstance(value, int):
        schema = {"type": ["integer", "null"]}
    elif isinstance(value, float) or value is None:
        schema = {"type": ["number", "null"]}
    elif isinstance(value, str):
        schema = {"type": ["string", "null"]}
    elif isinstance(value, dict):
        schema = {
            "type": "object",
            "properties": {str(k): infer_schema(v, depth=depth + 1) for k, v in value.items()},
        }
    elif isinstance(value, (list, tuple)):
        schema = {"type": "array"}
        first = next((v for v in value if v is not None), None)
        if first is not None:
            item = infer_schema(first, depth=depth + 1)
            if item.get("type") == ["integer", "null"]:
                item = {"type": ["number", "null"]}  # a list of ints may later hold floats
            schema["items"] = item
    else:
        schema = {}
    if title is not None:
        schema["title"] = title
    return schema
