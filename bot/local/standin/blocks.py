"""Block Kit checks the Slack API makes, and the ids it fills in.

Slack rejects a bad message with `invalid_blocks` and one line per problem ending in a JSON
pointer; these checks cover the hard limits slack-sdk does NOT enforce for dict payloads (see
shared/slack/PLATFORM.md §1), so the local stack catches them before a real workspace does.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from typing import Any

from bot.local.standin.model import JsonObject, SlackError

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
VIEW_BYTES = 250_000
# `msg_blocks_too_long`: Slack's limit on a message's block text is undocumented; it shows
# around 12-13k characters (bolt-js#2867: "12,000 text characters with a buffer for block
# containers"), so the stand-in refuses past 12,000, the lowest value reported.
MESSAGE_BLOCK_TEXT = 12_000
MESSAGE_TEXT = 40_000  # a longer top-level `text` is cut here (Slack: warning message_truncated)
BLOCK_TYPES = frozenset(
    {"actions", "context", "divider", "file", "header", "image", "input", "markdown",
     "rich_text", "section", "table", "video"}
)  # fmt: skip
OPTION_LIMITS = {
    "static_select": (1, 100), "multi_static_select": (1, 100), "overflow": (2, 5),
    "radio_buttons": (1, 10), "checkboxes": (1, 10),
}  # fmt: skip
PLAIN_OPTIONS = frozenset({"static_select", "multi_static_select", "overflow"})


def parse_json(value: Any, error: str) -> Any:
    """Args sent as form fields carry JSON as a string; JSON bodies carry it as is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise SlackError(error) from None


def message_blocks(value: Any) -> list[JsonObject]:
    """The `blocks` arg of chat.* and response_url posts, checked, with ids filled in."""
    blocks = parse_json(value, "invalid_blocks_format")
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    problems = list(block_problems(blocks, MESSAGE_BLOCKS, "/blocks"))
    if problems:
        raise SlackError("invalid_blocks", messages=problems)
    if sum(len(t) for t in texts(blocks)) > MESSAGE_BLOCK_TEXT:
        raise SlackError("msg_blocks_too_long")
    return with_ids(blocks)


def texts(node: Any) -> Iterator[str]:
    """Every text object's text under `node`."""
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from texts(item)


def view_body(value: Any) -> JsonObject:
    """The `view` arg of views.*, checked (`invalid_arguments` like Slack), ids filled in."""
    view = parse_json(value, "invalid_arguments")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", messages=["must be an object [json-pointer:/view]"])
    if len(json.dumps(view)) > VIEW_BYTES:
        raise SlackError("view_too_large")
    problems = list(view_problems(view))
    if problems:
        raise SlackError("invalid_arguments", messages=problems)
    view = copy.deepcopy(view)
    view["blocks"] = with_ids(view.get("blocks") or [])
    return view


def view_problems(view: JsonObject) -> Iterator[str]:
    kind = view.get("type")
    if kind not in ("modal", "home"):
        yield "must be one of modal, home [json-pointer:/view/type]"
        return
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        yield "must provide an array [json-pointer:/view/blocks]"
        return
    yield from block_problems(blocks, VIEW_BLOCKS, "/view/blocks")
    if kind == "modal":
        yield from text_problems(view.get("title"), "/view/title", 24, plain=True)
        for name in ("submit", "close"):
            yield from text_problems(view.get(name), f"/view/{name}", 24, plain=True, needed=False)
        inputs = any(b.get("type") == "input" for b in blocks if isinstance(b, dict))
        if inputs and not view.get("submit"):
            yield "must provide submit when the view has input blocks [json-pointer:/view]"
    elif view.get("submit") or view.get("close"):
        yield "home views cannot have submit or close [json-pointer:/view]"
    for name, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        yield from length_problems(view.get(name), f"/view/{name}", limit)


def block_problems(blocks: list[Any], limit: int, pointer: str) -> Iterator[str]:
    if len(blocks) > limit:
        yield f"no more than {limit} items allowed [json-pointer:{pointer}]"
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        at = f"{pointer}/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            yield f"missing required field: type [json-pointer:{at}]"
            continue
        block_id = block.get("block_id")
        yield from length_problems(block_id, f"{at}/block_id", 255)
        if isinstance(block_id, str):
            if block_id in seen:
                yield f"duplicate block_id {block_id!r} [json-pointer:{at}/block_id]"
            seen.add(block_id)
        yield from one_block_problems(block, at)


def one_block_problems(block: JsonObject, at: str) -> Iterator[str]:
    kind = block["type"]
    if kind not in BLOCK_TYPES:
        yield f"unsupported type: {kind} [json-pointer:{at}/type]"
    elif kind == "header":
        yield from text_problems(block.get("text"), f"{at}/text", 150, plain=True)
    elif kind == "section":
        yield from section_problems(block, at)
    elif kind == "actions":
        yield from elements_problems(block.get("elements"), f"{at}/elements", 25, element_problems)
        yield from duplicate_action_ids(block.get("elements"), f"{at}/elements")
    elif kind == "context":
        yield from elements_problems(block.get("elements"), f"{at}/elements", 10, context_problems)
    elif kind == "image":
        yield from image_problems(block, at)
    elif kind == "input":
        yield from text_problems(block.get("label"), f"{at}/label", 2000, plain=True)
        yield from text_problems(block.get("hint"), f"{at}/hint", 2000, plain=True, needed=False)
        element = block.get("element")
        if not isinstance(element, dict):
            yield f"must provide an object [json-pointer:{at}/element]"
        else:
            yield from element_problems(element, f"{at}/element")
    elif kind == "markdown":
        yield from length_problems(block.get("text"), f"{at}/text", 12_000, needed=True)


def section_problems(block: JsonObject, at: str) -> Iterator[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        yield f"must provide either text or fields [json-pointer:{at}]"
    if text is not None:
        yield from text_problems(text, f"{at}/text", 3000)
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > 10:
            yield f"no more than 10 items allowed [json-pointer:{at}/fields]"
        else:
            for i, item in enumerate(fields):
                yield from text_problems(item, f"{at}/fields/{i}", 2000)
    accessory = block.get("accessory")
    if accessory is not None:
        if isinstance(accessory, dict) and accessory.get("type") == "image":
            yield from image_problems(accessory, f"{at}/accessory")
        else:
            yield from element_problems(accessory, f"{at}/accessory")


def elements_problems(elements: Any, at: str, limit: int, check: Any) -> Iterator[str]:
    if not isinstance(elements, list) or not elements:
        yield f"must provide at least 1 item [json-pointer:{at}]"
        return
    if len(elements) > limit:
        yield f"no more than {limit} items allowed [json-pointer:{at}]"
    for i, element in enumerate(elements):
        yield from check(element, f"{at}/{i}")


def duplicate_action_ids(elements: Any, at: str) -> Iterator[str]:
    seen: set[str] = set()
    for i, element in enumerate(elements if isinstance(elements, list) else []):
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in seen:
                yield f"duplicate action_id {action_id!r} [json-pointer:{at}/{i}/action_id]"
            seen.add(action_id)


def context_problems(element: Any, at: str) -> Iterator[str]:
    if isinstance(element, dict) and element.get("type") == "image":
        yield from image_problems(element, at)
    else:
        yield from text_problems(element, at, 3000)


def image_problems(image: JsonObject, at: str) -> Iterator[str]:
    if not image.get("image_url") and not image.get("slack_file"):
        yield f"must provide image_url or slack_file [json-pointer:{at}]"
    yield from length_problems(image.get("image_url"), f"{at}/image_url", 3000)
    yield from length_problems(image.get("alt_text"), f"{at}/alt_text", 2000, needed=True)


def element_problems(element: Any, at: str) -> Iterator[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        yield f"missing required field: type [json-pointer:{at}]"
        return
    kind = element["type"]
    yield from length_problems(element.get("action_id"), f"{at}/action_id", 255)
    if kind == "button":
        yield from text_problems(element.get("text"), f"{at}/text", 75, plain=True)
        yield from length_problems(element.get("value"), f"{at}/value", 2000)
        yield from length_problems(element.get("url"), f"{at}/url", 3000)
        yield from style_problems(element, at)
    placeholder = element.get("placeholder")
    yield from text_problems(placeholder, f"{at}/placeholder", 150, plain=True, needed=False)
    if kind in OPTION_LIMITS:
        yield from options_problems(element, at, OPTION_LIMITS[kind], kind in PLAIN_OPTIONS)
    elif kind == "plain_text_input":
        yield from input_length_problems(element, at)
    if element.get("confirm") is not None:
        yield from confirm_problems(element["confirm"], f"{at}/confirm")


def style_problems(element: JsonObject, at: str) -> Iterator[str]:
    if element.get("style") not in (None, "primary", "danger"):
        yield f"must be one of primary, danger [json-pointer:{at}/style]"


def input_length_problems(element: JsonObject, at: str) -> Iterator[str]:
    low, high = element.get("min_length"), element.get("max_length")
    if low is not None and not (isinstance(low, int) and 0 <= low <= 3000):
        yield f"must be between 0 and 3000 [json-pointer:{at}/min_length]"
    if high is not None and not (isinstance(high, int) and 1 <= high <= 3000):
        yield f"must be between 1 and 3000 [json-pointer:{at}/max_length]"
    if isinstance(low, int) and isinstance(high, int) and low > high:
        yield f"must not be above max_length [json-pointer:{at}/min_length]"


def options_problems(
    element: JsonObject, at: str, count: tuple[int, int], plain: bool
) -> Iterator[str]:
    groups = element.get("option_groups")
    offered: list[Any] = []
    if groups is not None and element.get("options") is None:
        for g, group in enumerate(groups if isinstance(groups, list) else []):
            where = f"{at}/option_groups/{g}"
            group = group if isinstance(group, dict) else {}
            yield from text_problems(group.get("label"), f"{where}/label", 75, plain=True)
            options = group.get("options")
            yield from option_list_problems(options, where, (1, 100), plain)
            offered += options if isinstance(options, list) else []
    else:
        options = element.get("options")
        yield from option_list_problems(options, at, count, plain)
        offered = options if isinstance(options, list) else []
    # What is shown chosen must be one of the options offered, as it is drawn.
    initial = element.get("initial_option")
    if initial is not None and initial not in offered:
        yield f"must match one of the options [json-pointer:{at}/initial_option]"
    for i, chosen in enumerate(element.get("initial_options") or []):
        if chosen not in offered:
            yield f"must match one of the options [json-pointer:{at}/initial_options/{i}]"


def option_list_problems(
    options: Any, at: str, count: tuple[int, int], plain: bool
) -> Iterator[str]:
    low, high = count
    if not isinstance(options, list) or len(options) < low:
        yield f"must provide at least {low} item(s) [json-pointer:{at}/options]"
        return
    if len(options) > high:
        yield f"no more than {high} items allowed [json-pointer:{at}/options]"
    for i, option in enumerate(options):
        where = f"{at}/options/{i}"
        if not isinstance(option, dict):
            yield f"must provide an object [json-pointer:{where}]"
            continue
        yield from text_problems(option.get("text"), f"{where}/text", 75, plain=plain)
        yield from length_problems(option.get("value"), f"{where}/value", 150, needed=True)
        description = option.get("description")
        yield from text_problems(description, f"{where}/description", 75, needed=False)
        yield from length_problems(option.get("url"), f"{where}/url", 3000)


def confirm_problems(confirm: Any, at: str) -> Iterator[str]:
    if not isinstance(confirm, dict):
        yield f"must provide an object [json-pointer:{at}]"
        return
    yield from text_problems(confirm.get("title"), f"{at}/title", 100, plain=True)
    yield from text_problems(confirm.get("text"), f"{at}/text", 300)
    yield from text_problems(confirm.get("confirm"), f"{at}/confirm", 30, plain=True)
    yield from text_problems(confirm.get("deny"), f"{at}/deny", 30, plain=True)
    yield from style_problems(confirm, at)


def text_problems(
    obj: Any, at: str, limit: int, *, plain: bool = False, needed: bool = True
) -> Iterator[str]:
    if obj is None:
        if needed:
            yield f"must provide an object [json-pointer:{at}]"
        return
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        yield f"must be a text object [json-pointer:{at}]"
        return
    if plain and obj["type"] != "plain_text":
        yield f"must be plain_text [json-pointer:{at}/type]"
    yield from length_problems(obj.get("text"), f"{at}/text", limit, needed=True)


def length_problems(value: Any, at: str, limit: int, *, needed: bool = False) -> Iterator[str]:
    if value is None and not needed:
        return
    if not isinstance(value, str) or not value:
        yield f"must be more than 0 characters [json-pointer:{at}]"
    elif len(value) > limit:
        yield f"must be less than {limit + 1} characters [json-pointer:{at}]"


def with_ids(blocks: list[Any]) -> list[JsonObject]:
    """A copy with the block_id / action_id Slack generates when the app leaves them out;
    interaction payloads carry them, so the console needs them too."""
    result: list[JsonObject] = copy.deepcopy(blocks)
    for block in result:
        block.setdefault("block_id", _random_id())
        for element in _interactive(block):
            element.setdefault("action_id", _random_id())
    return result


def _interactive(block: JsonObject) -> Iterator[JsonObject]:
    if block.get("type") == "actions":
        yield from (e for e in block.get("elements", []) if isinstance(e, dict))
    for key in ("accessory", "element"):
        element = block.get(key)
        if isinstance(element, dict) and element.get("type") != "image":
            yield element


def _random_id() -> str:
    return secrets.token_urlsafe(4)[:5]
