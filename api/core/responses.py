"""`JSONResponse` rendered with orjson (UTC datetimes as 'Z', money as decimal strings).

It subclasses Starlette's `JSONResponse` so that FastAPI documents each route's
`response_model` as its JSON body (any other response class is documented as a string)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse as StarletteJSONResponse


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class JSONResponse(StarletteJSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
