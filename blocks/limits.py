"""Block Kit limits that slack-sdk does not check (PLATFORM.md §1), plus its own checks.

slack-sdk validates some limits in `to_dict()` and none in dicts; Slack rejects a whole payload
(`invalid_blocks`, `msg_blocks_too_long`) for one bad field. `problems` lists every violation
so tests can assert there are none; renderers are built to produce none whatever the data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block, TextObject
from slack_sdk.models.views import View

from blocks.safety import text_width

Surface = Literal["message", "modal", "home"]
Json = Mapping[str, Any]
# Model objects or plain dicts (what handlers get back from Slack), or a mix.
Blocks = Sequence[Block | Json]

MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
MAX_MESSAGE_TEXT = 4_000
# `msg_blocks_too_long` appears around 12-13k characters of block text (bolt-js#2867).
MESSAGE_TEXT_BUDGET = 12_000
VIEW_MAX_BYTES = 250_000
MAX_PRIVATE_METADATA = 3_000

_TEXT_TYPES = ("plain_text", "mrkdwn")
_SELECTS = ("static_select", "multi_static_select")
# Elements a handler listens to by action_id; Slack would invent one, which nobody listens to.
_INTERACTIVE = (
    "button",
    "overflow",
    "radio_buttons",
    "checkboxes",
    "plain_text_input",
    "datepicker",
    "timepicker",
    "users_select",
    "conversations_select",
    "channels_select",
    "external_select",
    *_SELECTS,
)


def problems(blocks: Blocks, *, surface: Surface, text: str | None = None) -> list[str]:
    """Every limit `blocks` (and the top-level `text`) break on `surface`; [] when none."""
    found: list[str] = []
    payload = _as_dicts(blocks, found)
    if len(blocks) > MAX_BLOCKS[surface]:
        found.append(f"{len(blocks)} blocks: a {surface} allows {MAX_BLOCKS[surface]}")
    if surface == "message" and not blocks and not text:
        found.append("a message needs blocks or text")
    if text is not None:
        _text_value(text, "text", MAX_MESSAGE_TEXT, found)
    for index, block in enumerate(payload):
        _check_block(block, f"blocks[{index}]", found)
    _check_block_ids(payload, found)
    if surface == "message":
        size = sum(text_width(t) for t in _texts(payload))
        if size > MESSAGE_TEXT_BUDGET:
            found.append(f"{size} characters of block text: keep under {MESSAGE_TEXT_BUDGET}")
    elif len(json.dumps(payload).encode()) > VIEW_MAX_BYTES:
        found.append(f"view larger than {VIEW_MAX_BYTES} bytes")
    return found


def view_problems(view: View) -> list[str]:
    """`problems` for a modal or Home tab, plus the view's own fields (title, metadata)."""
    found: list[str] = []
    try:
        view.to_dict()
    except SlackObjectFormationError as error:
        found.append(f"view: {error}")
    for name in ("title", "submit", "close"):
        value = getattr(view, name, None)
        if value is not None:
            _text_object(value.to_dict(), name, 24, found, plain_only=True)
    if len(view.private_metadata or "") > MAX_PRIVATE_METADATA:
        found.append(f"private_metadata longer than {MAX_PRIVATE_METADATA}")
    surface: Surface = "home" if view.type == "home" else "modal"
    return found + problems(view.blocks or [], surface=surface)


def text_size(blocks: Blocks) -> int:
    """Characters of text in `blocks`, as counted against `MESSAGE_TEXT_BUDGET`. Model objects
    are walked as they are: serialising them (`to_dict` validates every nested object) would
    double a card's render cost for one number."""
    texts = (_model_texts(b) if isinstance(b, Block) else _texts(b) for b in blocks)
    return sum(text_width(t) for each in texts for t in each)


def _model_texts(node: object) -> Iterator[str]:
    """Every text object's text under a model object: the same texts `to_dict` would emit
    (models keep plain `str` copies beside their text objects; only the objects count)."""
    if isinstance(node, TextObject):
        yield node.text
    elif isinstance(node, JsonObject):
        for value in vars(node).values():
            yield from _model_texts(value)
    elif isinstance(node, Mapping):  # a part given already serialised
        yield from _texts(node)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _model_texts(item)


def _as_dicts(blocks: Blocks, found: list[str]) -> list[Json]:
    """Serialise model objects, which runs slack-sdk's validation; its errors are problems."""
    out: list[Json] = []
    for index, block in enumerate(blocks):
        if isinstance(block, Block):
            try:
                out.append(block.to_dict())
            except SlackObjectFormationError as error:
                found.append(f"blocks[{index}]: {error}")
        else:
            out.append(block)
    return out


def _texts(node: Any) -> Iterator[str]:
    """Every text object's text anywhere under `node`."""
    if isinstance(node, Mapping):
        if node.get("type") in _TEXT_TYPES and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _check_block(block: Json, path: str, found: list[str]) -> None:
    check = _BLOCK_CHECKS.get(str(block.get("type")))
    if check is not None:
        check(block, path, found)
    ids = [str(e["action_id"]) for e in _elements_of(block) if e.get("action_id")]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        found.append(f"{path}: action_id {dup!r} used twice in one block")


def _elements_of(block: Json) -> list[Json]:
    elements = [e for e in block.get("elements") or [] if isinstance(e, Mapping)]
    for key in ("accessory", "element"):
        if isinstance(block.get(key), Mapping):
            elements.append(block[key])
    return elements


def _check_block_ids(payload: Sequence[Json], found: list[str]) -> None:
    seen: set[str] = set()
    for block in payload:
        block_id = block.get("block_id")
        if block_id is None:
            continue
        if block_id in seen:
            found.append(f"block_id {block_id!r} used twice")
        seen.add(block_id)
        if len(str(block_id)) > 255:
            found.append(f"block_id longer than 255: {str(block_id)[:40]!r}…")


def _section(block: Json, path: str, found: list[str]) -> None:
    fields = block.get("fields") or []
    if block.get("text") is None and not fields:
        found.append(f"{path}: section needs text or fields")
    if block.get("text") is not None:
        _text_object(block["text"], f"{path}.text", 3000, found)
    if len(fields) > 10:
        found.append(f"{path}: {len(fields)} fields, max 10")
    for index, field in enumerate(fields):
        _text_object(field, f"{path}.fields[{index}]", 2000, found)
    if isinstance(block.get("accessory"), Mapping):
        _check_element(block["accessory"], f"{path}.accessory", found)


def _header(block: Json, path: str, found: list[str]) -> None:
    _text_object(block.get("text"), f"{path}.text", 150, found, plain_only=True)


def _context(block: Json, path: str, found: list[str]) -> None:
    elements = block.get("elements") or []
    if not 1 <= len(elements) <= 10:
        found.append(f"{path}: context needs 1 to 10 elements, has {len(elements)}")
    for index, element in enumerate(elements):
        if isinstance(element, Mapping) and element.get("type") in _TEXT_TYPES:
            _text_object(element, f"{path}.elements[{index}]", 3000, found)


def _actions(block: Json, path: str, found: list[str]) -> None:
    elements = block.get("elements") or []
    if not 1 <= len(elements) <= 25:
        found.append(f"{path}: actions needs 1 to 25 elements, has {len(elements)}")
    for index, element in enumerate(elements):
        _check_element(element, f"{path}.elements[{index}]", found)


def _input(block: Json, path: str, found: list[str]) -> None:
    _text_object(block.get("label"), f"{path}.label", 2000, found, plain_only=True)
    if block.get("hint") is not None:
        _text_object(block["hint"], f"{path}.hint", 2000, found, plain_only=True)
    if not isinstance(block.get("element"), Mapping):
        found.append(f"{path}: input needs an element")
    else:
        _check_element(block["element"], f"{path}.element", found)


_BLOCK_CHECKS: dict[str, Callable[[Json, str, list[str]], None]] = {
    "section": _section,
    "header": _header,
    "context": _context,
    "actions": _actions,
    "input": _input,
}


def _check_element(element: Json, path: str, found: list[str]) -> None:
    kind = element.get("type")
    if kind in _INTERACTIVE:
        action_id = element.get("action_id")
        if not action_id:
            found.append(f"{path}: {kind} without action_id")
        elif len(str(action_id)) > 255:
            found.append(f"{path}: action_id longer than 255")
    if element.get("placeholder") is not None:
        _text_object(element["placeholder"], f"{path}.placeholder", 150, found, plain_only=True)
    if element.get("confirm") is not None:
        _confirm(element["confirm"], f"{path}.confirm", found)
    if kind == "button":
        _button(element, path, found)
    elif kind in _SELECTS:
        _options(element, path, found, count=(1, 100), plain_only=True)
    elif kind == "overflow":
        _options(element, path, found, count=(2, 5), plain_only=True)
    elif kind in ("radio_buttons", "checkboxes"):
        _options(element, path, found, count=(1, 10), plain_only=False)
    elif kind == "plain_text_input":
        _text_input(element, path, found)


def _button(element: Json, path: str, found: list[str]) -> None:
    _text_object(element.get("text"), f"{path}.text", 75, found, plain_only=True)
    if len(str(element.get("value", ""))) > 2000:
        found.append(f"{path}: button value longer than 2000")
    if len(str(element.get("url", ""))) > 3000:
        found.append(f"{path}: button url longer than 3000")
    if element.get("style") not in (None, "primary", "danger"):
        found.append(f"{path}: button style must be primary or danger")


def _options(
    element: Json, path: str, found: list[str], *, count: tuple[int, int], plain_only: bool
) -> None:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        _text_object(group.get("label"), f"{path}.option_groups.label", 75, found, plain_only=True)
        options.extend(group.get("options") or [])
    low, high = count
    if not low <= len(options) <= high:
        found.append(f"{path}: {len(options)} options, needs {low} to {high}")
    for index, option in enumerate(options):
        where = f"{path}.options[{index}]"
        _text_object(option.get("text"), f"{where}.text", 75, found, plain_only=plain_only)
        if option.get("description") is not None:
            _text_object(option["description"], f"{where}.description", 75, found)
        value = str(option.get("value") or "")
        if not 1 <= len(value) <= 150:
            found.append(f"{where}: option value needs 1 to 150 characters")
        if len(str(option.get("url", ""))) > 3000:
            found.append(f"{where}: option url longer than 3000")
    for key in ("initial_option",):
        if element.get(key) is not None and element[key] not in options:
            found.append(f"{path}: {key} is not one of the options")


def _text_input(element: Json, path: str, found: list[str]) -> None:
    low, high = element.get("min_length"), element.get("max_length")
    if low is not None and not 0 <= low <= 3000:
        found.append(f"{path}: min_length must be 0 to 3000")
    if high is not None and not 1 <= high <= 3000:
        found.append(f"{path}: max_length must be 1 to 3000")
    if low is not None and high is not None and low > high:
        found.append(f"{path}: min_length above max_length")


def _confirm(confirm: Json, path: str, found: list[str]) -> None:
    _text_object(confirm.get("title"), f"{path}.title", 100, found, plain_only=True)
    _text_object(confirm.get("text"), f"{path}.text", 300, found)
    for key in ("confirm", "deny"):
        _text_object(confirm.get(key), f"{path}.{key}", 30, found, plain_only=True)
    if confirm.get("style") not in (None, "primary", "danger"):
        found.append(f"{path}: confirm style must be primary or danger")


def _text_object(
    value: Any, path: str, limit: int, found: list[str], *, plain_only: bool = False
) -> None:
    if not isinstance(value, Mapping) or value.get("type") not in _TEXT_TYPES:
        found.append(f"{path}: not a text object")
        return
    if plain_only and value["type"] != "plain_text":
        found.append(f"{path}: must be plain_text")
    text = value.get("text")
    if not isinstance(text, str):
        found.append(f"{path}: text missing (empty strings are dropped by slack-sdk)")
        return
    _text_value(text, path, limit, found)


def _text_value(text: str, path: str, limit: int, found: list[str]) -> None:
    if not text.strip():
        found.append(f"{path}: empty text")
    elif text_width(text) > limit:
        found.append(f"{path}: {text_width(text)} characters, max {limit}")
