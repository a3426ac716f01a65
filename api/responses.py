"""Responses the routers share: results written as JSON by one encoder.

Every number in a result is a plain JSON number: orjson refuses numpy scalars, so a result that
let one through fails here, loudly, rather than being written in some other form.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


def json_response(
    content: Any, media_type: str = "application/json", headers: dict[str, str] | None = None
) -> Response:
    """A result as JSON (check results are plain dicts: orjson writes them several times faster)."""
    return Response(orjson.dumps(content), media_type=media_type, headers=headers)
