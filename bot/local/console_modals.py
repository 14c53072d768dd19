"""The person's open modals and Home tab, as the Slack client keeps them.

Views arrive from the stand-in's view log (views.open/push/update/publish by the bot) and from
view_submission acks (`response_action`). Input values live here until submitted. The Home
tab is kept whenever the bot draws it, and printed only while the person looks at it (after
`home`, until they turn to a channel), as Slack shows it only on its tab.
"""

from __future__ import annotations

from typing import Any

from bot.local import payloads
from bot.local.console_screen import Screen
from bot.local.render import Input, Renderer, describe_value
from bot.local.standin.blocks import view_body
from bot.local.standin.model import SlackError

JsonObject = dict[str, Any]


class ConsoleError(Exception):
    """Something the person typed cannot be done; the message says why."""


class Modals:
    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.stack: list[JsonObject] = []  # top last
        self.home: JsonObject | None = None
        self.home_open = False  # the person is looking at their Home tab
        self.values: dict[str, dict[str, Any]] = {}  # view id -> block_id -> action_id -> state

    def clear(self) -> None:
        self.stack, self.home, self.home_open = [], None, False

    def top(self) -> JsonObject:
        if not self.stack:
            raise ConsoleError("no modal is open")
        return self.stack[-1]

    def values_of(self, view: JsonObject) -> dict[str, Any]:
        return self.values.get(view["id"], {})

    def show(self, view: JsonObject, what: str, errors: JsonObject | None = None) -> None:
        self.screen.view(view, what, self.values_of(view), errors)

    def current(self, view: JsonObject) -> JsonObject:
        """The latest version of a view a number was printed with."""
        for known in [*self.stack, self.home]:
            if known is not None and known["id"] == view["id"]:
                return known
        return view

    # --- what the bot did, from the stand-in's view log -------------------------------------

    def apply(self, event: JsonObject, me: str) -> bool:
        """One views.* event; True if it concerned user `me` (and was printed)."""
        view, kind = event["view"], event["kind"]
        if kind in ("open", "push") and event["user"] in (None, me):
            if kind == "open":
                self.stack = []
            self.stack.append(view)
            self.show(view, "modal opened")
            return True
        if kind == "publish" and event["user"] == me:
            self.home = view
            if self.home_open:
                self.show(view, "Home tab updated")
            return True
        return kind == "update" and self._replace(view)

    def _replace(self, view: JsonObject) -> bool:
        for index, modal in enumerate(self.stack):
            if modal["id"] == view["id"]:
                self.stack[index] = view
                self.show(view, "modal updated")
                return True
        if self.home is not None and self.home["id"] == view["id"]:
            self.home = view
            if self.home_open:
                self.show(view, "Home tab updated")
            return True
        return False

    # --- what the person does ---------------------------------------------------------------

    def inputs(self, view: JsonObject) -> list[Input]:
        renderer = Renderer(0)
        renderer.blocks(view.get("blocks") or [])
        return renderer.inputs

    def set_field(self, field: str, text: str) -> str:
        """`set N VALUE` on the open modal: N is the input's number, block_id or label."""
        view = self.top()
        item = self._find_input(view, field)
        try:
            state = payloads.input_state(item, text)
        except ValueError as error:
            raise ConsoleError(str(error)) from None
        self.values.setdefault(view["id"], {}).setdefault(item.block_id, {})[item.action_id] = state
        shown = f"{{{item.number}}} {item.label}: {describe_value(state)}"
        self.screen.say(shown)
        return shown

    def _find_input(self, view: JsonObject, field: str) -> Input:
        wanted = field.strip().lower()
        for item in self.inputs(view):
            names = {str(item.number), item.block_id.lower(), item.action_id.lower()}
            if wanted in names or wanted == item.label.lower():
                return item
        raise ConsoleError(f"the modal has no input {field!r}; `modal` lists them")

    def problems(self, view: JsonObject) -> list[str]:
        """What the Slack client refuses before sending anything: empty required inputs and
        text outside min_length/max_length."""
        state = payloads.state_values(view.get("blocks") or [], self.values_of(view))
        found = []
        for item in self.inputs(view):
            entry = state[item.block_id][item.action_id]
            if not item.optional and describe_value(entry) in ("(empty)", "(none)"):
                found.append(f"{{{item.number}}} {item.label} is required")
            text = entry.get("value")
            low, high = item.element.get("min_length", 0), item.element.get("max_length", 3000)
            if isinstance(text, str) and text and not low <= len(text) <= high:
                found.append(f"{{{item.number}}} {item.label} needs {low}-{high} characters")
        return found

    def after_submission(self, view: JsonObject, body: JsonObject) -> None:
        """What Slack does with a view_submission ack (`response_action`)."""
        action = body.get("response_action")
        if action == "errors":
            self.show(view, "modal (not submitted)", body.get("errors") or {})
        elif action in ("update", "push"):
            self._from_ack(view, body.get("view"), action)
        elif action == "clear":
            self.stack = []
            self.screen.say("(modal closed)")
        else:
            self.close_top()

    def _from_ack(self, view: JsonObject, new: Any, action: str) -> None:
        try:
            checked = view_body(new)
        except SlackError as error:
            self.screen.say(
                f"⚠ Slack would refuse that {action} view: {error.error} {error.messages}"
            )
            return
        if action == "update":
            self.stack[-1] = {**view, **checked}
            self.show(self.stack[-1], "modal updated")
        else:
            # Slack gives a pushed view its own id; the stand-in never saw this one.
            pushed = {**checked, "id": f"{view['id']}-{len(self.stack) + 1}"}
            self.stack.append(pushed)
            self.show(pushed, "modal pushed")

    def close_top(self) -> JsonObject:
        view = self.stack.pop()
        self.screen.say("(modal closed)")
        if self.stack:
            self.show(self.stack[-1], "modal")
        return view
