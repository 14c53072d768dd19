"""Block Kit as readable terminal text, for the local console.

Pure functions. Interactive elements come back as numbered `Clickable`s and modal inputs as
numbered `Input`s. Text is only ever printed: mrkdwn entities (`&lt;` `&gt;` `&amp;`) are
shown decoded, real control sequences (`<@U1>`, `<!here>`, `<url|label>`) are shown as what
Slack would display, and terminal control characters are made visible so that text from an
email (subjects, senders) cannot drive the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.local.columns import SCREEN_COLUMNS, columns

JsonObject = dict[str, Any]

ENTITY = re.compile(r"&(lt|gt|amp);")
ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
CONTROL_SEQUENCE = re.compile(r"<([^<>\n]*)>")
# C0/C1 controls except tab and newline, DEL, and the bidi overrides ("trojan source").
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
DIVIDER = "─" * 40
# Where a row of buttons wraps: the screen less a message's indent and a thread's marker.
ROW_COLUMNS = SCREEN_COLUMNS - 4
OPTION_KINDS = frozenset(
    {"static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes"}
)
VALUE_HINTS = {
    "users_select": "a user id",
    "multi_users_select": "user ids, comma separated",
    "conversations_select": "a channel id",
    "channels_select": "a channel id",
    "datepicker": "YYYY-MM-DD",
    "timepicker": "HH:MM",
    "plain_text_input": "text",
}
# The state key Slack uses for elements chosen by value rather than by option.
SELECTED = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}
INITIAL = {
    "users_select": "initial_user",
    "conversations_select": "initial_conversation",
    "channels_select": "initial_channel",
    "datepicker": "initial_date",
    "timepicker": "initial_time",
}
MULTI_OPTION_KINDS = frozenset({"multi_static_select", "checkboxes"})


@dataclass(frozen=True)
class Option:
    text: str
    value: str
    raw: JsonObject  # the option object, sent back as `selected_option`


@dataclass
class Clickable:
    """A button, menu or other element a person can act on, numbered on the screen."""

    number: int
    kind: str
    action_id: str
    block_id: str
    label: str
    element: JsonObject
    options: list[Option] = field(default_factory=list)

    @property
    def confirm(self) -> JsonObject | None:
        confirm = self.element.get("confirm")
        return confirm if isinstance(confirm, dict) else None

    def choose(self, choice: str) -> list[Option]:
        """The options picked by number or value: `2`, `JunkEmail`, or `1,3` for multi."""
        return [self._one(part.strip()) for part in choice.split(",") if part.strip()]

    def _one(self, choice: str) -> Option:
        if choice.isdigit() and 1 <= int(choice) <= len(self.options):
            return self.options[int(choice) - 1]
        for option in self.options:
            if choice in (option.value, option.text):
                return option
        raise ValueError(f"no option {choice!r}; pick a number 1-{len(self.options)} or a value")


@dataclass
class Input:
    """An input block of a modal, numbered for `set N VALUE`."""

    number: int
    block_id: str
    action_id: str
    label: str
    element: JsonObject
    optional: bool
    options: list[Option] = field(default_factory=list)


def printable(text: str) -> str:
    """Control characters shown as `\\x1b`-style escapes instead of reaching the terminal."""
    return UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def decode(text: str) -> str:
    return ENTITY.sub(lambda m: ENTITIES[m.group(1)], text)


def mrkdwn(text: str) -> str:
    """mrkdwn as Slack would display it. Escaped text (`&lt;!here&gt;`) shows as the literal
    `<!here>`; a real `<!here>` shows as `@here`, so the two can be told apart."""
    parts, position = [], 0
    for match in CONTROL_SEQUENCE.finditer(text):
        parts.append(decode(text[position : match.start()]))
        parts.append(_control(match.group(1)))
        position = match.end()
    parts.append(decode(text[position:]))
    return printable("".join(parts))


def _control(inner: str) -> str:
    target, _, label = inner.partition("|")
    label = decode(label)
    if target.startswith(("@", "#")):
        return target[0] + (label or target[1:])
    if target.startswith("!subteam^"):
        return "@" + (label or target.removeprefix("!subteam^"))
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):
        return "@" + target[1:]
    url = decode(target)
    return f"{label} ({url})" if label and label != url else url


def text_of(obj: Any) -> str:
    """A text object (mrkdwn or plain_text) or a bare string, as display text."""
    if isinstance(obj, str):
        return mrkdwn(obj)
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    # plain_text is not mrkdwn: shown as sent, so a needless &amp; stays visible.
    return mrkdwn(text) if obj.get("type") == "mrkdwn" else printable(text)


def options_of(element: JsonObject) -> list[Option]:
    raw: list[Any] = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        raw.extend(group.get("options") or [])
    return [
        Option(text_of(o.get("text")), str(o.get("value", "")), o)
        for o in raw
        if isinstance(o, dict)
    ]


def render(blocks: list[JsonObject], start: int = 1) -> tuple[str, list[Clickable]]:
    """Blocks as text, and their interactive elements numbered from `start`."""
    renderer = Renderer(start)
    renderer.blocks(blocks)
    return "\n".join(renderer.lines), renderer.clickables


class Renderer:
    def __init__(self, start: int = 1, values: dict[str, Any] | None = None) -> None:
        self.lines: list[str] = []
        self.clickables: list[Clickable] = []
        self.inputs: list[Input] = []
        self.next = start
        self.values = values or {}  # modal state: block_id -> action_id -> state entry

    def blocks(self, blocks: list[JsonObject]) -> None:
        for block in blocks:
            if isinstance(block, dict):
                self.block(block)

    def block(self, block: JsonObject) -> None:
        kind = block.get("type")
        if kind == "header":
            self.lines.append(f"== {text_of(block.get('text'))} ==")
        elif kind == "section":
            self.section(block)
        elif kind == "context":
            self.lines.append("· " + " · ".join(self.context_parts(block)))
        elif kind == "divider":
            self.lines.append(DIVIDER)
        elif kind == "actions":
            self.actions(block)
        elif kind == "image":
            self.lines.append(f"[image: {printable(str(block.get('alt_text', '')))}]")
        elif kind == "file":
            self.lines.append(f"[file: {printable(str(block.get('external_id', '')))}]")
        elif kind == "input":
            self.input(block)
        elif kind == "rich_text":
            self.lines.append(printable("".join(_rich_text(block.get("elements"))).strip()))
        elif kind == "markdown":
            self.lines.append(printable(str(block.get("text", ""))))
        else:
            self.lines.append(f"[{printable(str(kind))} block]")

    def section(self, block: JsonObject) -> None:
        if block.get("text") is not None:
            self.lines.append(text_of(block["text"]))
        for item in block.get("fields") or []:
            self.lines.append(_field(text_of(item)))
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            if accessory.get("type") == "image":
                self.lines.append(f"[image: {printable(str(accessory.get('alt_text', '')))}]")
            else:
                self.lines.append(self.element(accessory, block))

    def context_parts(self, block: JsonObject) -> Iterator[str]:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "image":
                yield f"[image: {printable(str(element.get('alt_text', '')))}]"
            else:
                yield text_of(element)

    def actions(self, block: JsonObject) -> None:
        """Elements side by side, as Slack lays them out, wrapped at ROW_COLUMNS."""
        line = ""
        for element in block.get("elements") or []:
            if not isinstance(element, dict):
                continue
            part = self.element(element, block)
            if line and columns(line) + 2 + columns(part) > ROW_COLUMNS:
                self.lines.append(line)
                line = part
            else:
                line = f"{line}  {part}" if line else part
        self.lines.append(line)

    def element(self, element: JsonObject, block: JsonObject) -> str:
        kind = str(element.get("type", ""))
        label = text_of(element.get("text") or element.get("placeholder")) or kind
        options = options_of(element) if kind in OPTION_KINDS else []
        clickable = Clickable(
            self.next, kind, str(element.get("action_id", "")), str(block.get("block_id", "")),
            label, element, options,
        )  # fmt: skip
        self.clickables.append(clickable)
        self.next += 1
        return f"[{clickable.number}] {_describe(clickable)}"

    def input(self, block: JsonObject) -> None:
        element = block.get("element")
        if not isinstance(element, dict):
            element = {}
        number = len(self.inputs) + 1
        item = Input(
            number, str(block.get("block_id", "")), str(element.get("action_id", "")),
            text_of(block.get("label")), element, bool(block.get("optional")),
            options_of(element),
        )  # fmt: skip
        self.inputs.append(item)
        # What the person set, else what the view preselected: what a submit would send.
        state = self.values.get(item.block_id, {}).get(item.action_id) or initial_state(element)
        optional = " (optional)" if item.optional else ""
        self.lines.append(f"{{{number}}} {item.label}{optional}: {describe_value(state)}")
        if item.options:
            self.lines.append("    options: " + _numbered(item.options))
        elif element.get("type") in VALUE_HINTS and element["type"] != "plain_text_input":
            self.lines.append(f"    set {number} <{VALUE_HINTS[str(element['type'])]}>")
        if block.get("hint"):
            self.lines.append(f"    ({text_of(block['hint'])})")


def _describe(clickable: Clickable) -> str:
    kind = clickable.kind
    if kind == "button":
        url = clickable.element.get("url")
        return f"{clickable.label} ↗ {printable(str(url))}" if url else clickable.label
    if kind == "checkboxes":
        return tick_boxes(clickable, set())
    if clickable.options:
        symbol = "⋯" if kind == "overflow" else f"{clickable.label} ▾"
        chosen = describe_value(initial_state(clickable.element))
        now = "" if chosen in ("(empty)", "(none)") else f" = {chosen}"
        return f"{symbol}{now} ({_numbered(clickable.options)})"
    hint = VALUE_HINTS.get(kind, "a value")
    return f"{clickable.label} ▾ (click {clickable.number} <{hint}>)"


def tick_boxes(clickable: Clickable, ticked: set[str]) -> str:
    """`☐ Select`, or `☑ 1 A, ☐ 2 B` for several: the boxes of a checkbox group."""
    boxes = [("☑ " if o.value in ticked else "☐ ") for o in clickable.options]
    if len(clickable.options) == 1:
        return boxes[0] + clickable.options[0].text
    return ", ".join(
        f"{box}{i} {o.text}"
        for i, (box, o) in enumerate(zip(boxes, clickable.options, strict=True), 1)
    )


def _numbered(options: list[Option]) -> str:
    return ", ".join(f"{i} {o.text}" for i, o in enumerate(options, 1))


def _field(text: str) -> str:
    """`*Label*\\nvalue` (how cards lay out fields) as `Label: value`."""
    label, newline, value = text.partition("\n")
    if not newline:
        return text
    label = label.strip().strip("*").rstrip(":")
    return f"{label}: " + value.replace("\n", "\n  ")


def selection(kind: str, value: str | None) -> JsonObject:
    """The selected_* entry of an element chosen by value rather than by option."""
    if kind == "multi_users_select":
        return {"selected_users": [v.strip() for v in (value or "").split(",") if v.strip()]}
    return {SELECTED.get(kind, "value"): value}


def initial_state(element: JsonObject) -> JsonObject:
    """The state entry of an element nobody has touched: what the view preselected (its
    `initial_*`), else nothing chosen, as Slack reports it."""
    kind = str(element.get("type"))
    if kind in MULTI_OPTION_KINDS:
        return {"type": kind, "selected_options": element.get("initial_options") or []}
    if "options" in element or "option_groups" in element:
        return {"type": kind, "selected_option": element.get("initial_option")}
    if kind == "multi_users_select":
        initial = ",".join(element.get("initial_users") or []) or None
    else:
        initial = element.get(INITIAL.get(kind, "initial_value"))
    return {"type": kind, **selection(kind, initial)}


def describe_value(state: JsonObject) -> str:
    """A modal state entry (`{"type": ..., "value" | "selected_option" | ...}`) as text."""
    if state.get("selected_option"):
        return text_of(state["selected_option"].get("text"))
    if state.get("selected_options") is not None:
        return ", ".join(text_of(o.get("text")) for o in state["selected_options"]) or "(none)"
    if state.get("selected_users") is not None:
        return printable(", ".join(state["selected_users"])) or "(none)"
    for key in ("value", *SELECTED.values()):
        if state.get(key) is not None:
            return printable(str(state[key]))
    return "(empty)"


def _rich_text(elements: Any) -> Iterator[str]:
    """The text of rich_text sections, lists, quotes and preformatted blocks, flattened."""
    for element in elements if isinstance(elements, list) else []:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind == "text":
            yield str(element.get("text", ""))
        elif kind == "link":
            yield str(element.get("text") or element.get("url", ""))
        elif kind in ("user", "usergroup", "channel"):
            yield ("#" if kind == "channel" else "@") + str(
                element.get("user_id") or element.get("usergroup_id") or element.get("channel_id")
            )
        elif kind == "emoji":
            yield f":{element.get('name', '')}:"
        elif kind == "rich_text_list":
            for item in element.get("elements", []):
                yield "\n• " + "".join(_rich_text(item.get("elements", [])))
            yield "\n"
        else:
            yield from _rich_text(element.get("elements"))
            if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
                yield "\n"
