"""Reading the `result` of an answer: into the client's pydantic models, or as a checked PNG."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from bot.cloudflare.errors import UnexpectedResponseError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parse(model: type[BaseModel] | TypeAdapter[Any], data: Any, what: str) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except PydanticValidationError as exc:
        # Field names only: the values may be attacker-written message content.
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5]
        raise UnexpectedResponseError(
            f"{what}: the answer does not have the documented shape (fields: {', '.join(fields)})"
        ) from None


def png(body: dict[str, Any]) -> bytes:
    screenshot = (body.get("result") or {}).get("screenshot")
    if not isinstance(screenshot, str):
        raise UnexpectedResponseError("preview: the answer has no screenshot")
    try:
        data = base64.b64decode(screenshot, validate=True)
    except (binascii.Error, ValueError):
        raise UnexpectedResponseError("preview: the screenshot is not valid base64") from None
    if not data.startswith(PNG_SIGNATURE):
        raise UnexpectedResponseError("preview: the screenshot is not a PNG image")
    return data
