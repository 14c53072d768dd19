"""The EML of a `GET …/{id}/raw` answer, written out as it arrives, never held whole.

The answer is the v4 envelope `{"success": true, …, "result": {"raw": "<EML>"}}`, and an EML can
be tens of MB: parsed with `json.loads`, one view held the body, its text and the decoded string
at once (4 concurrent views of a 25 MB message peaked at 372 MB RSS). `RawEmlWriter` is fed the
body chunk by chunk and writes the `result.raw` string, unescaped and UTF-8 encoded, to a binary
sink; of everything else it keeps only object keys and `success`. It checks the JSON's structure
as far as it needs to know where it is, and stops with `TooLargeError` past a cap.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import BinaryIO, Literal

from bot.cloudflare.errors import TooLargeError, UnexpectedResponseError

WHAT = "raw"
# A run of whole string units: plain characters and complete escapes, up to a quote or an
# escape that is cut off (or invalid).
_UNITS = re.compile(r'[^"\\]*(?:(?:\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})[^"\\]*)*')
_PARTIAL_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?")
_HIGH_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")
_LITERAL = re.compile(r"[A-Za-z0-9+\-.]")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_MAX_KEY, _MAX_LITERAL, _MAX_DEPTH = 1024, 64, 32
_WHITESPACE = " \t\r\n"


def _bad(why: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(f"{WHAT}: the answer is not the documented JSON ({why})")


def _unescape(units: str) -> str:
    """Whole string units (no unescaped quote, no cut escape) as the text they stand for."""
    if "\\" not in units:
        return units
    # The C scanner of the json module, on these units as a complete JSON string.
    return str(scanstring(f'"{units}"', 1, False)[0])


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A surrogate escape without its other half: U+FFFD, as a decoder would show it.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode()


def _ends_in_high_surrogate(text: str, start: int, end: int) -> bool:
    """Whether whole units `text[start:end]` end in a `\\uD800`-`\\uDBFF` escape (and not in
    an escaped backslash followed by "uD8…")."""
    escape = end - 6
    if escape < start or not _HIGH_SURROGATE.fullmatch(text, escape, end):
        return False
    run = escape
    while run > start and text[run - 1] == "\\":
        run -= 1
    return (escape - run) % 2 == 0  # an even run of backslashes before it: each one escaped


@dataclass
class _Frame:
    kind: Literal["{", "["]
    # object: "first" (a key or "}"), "key", "colon", "value", "next" ("," or "}")
    # array: "first" (a value or "]"), "value", "next" ("," or "]")
    state: str = "first"
    key: str | None = None


class RawEmlWriter:
    """Feed the raw answer's bytes with `feed`, then `close`; the EML is in `sink`."""

    def __init__(self, sink: BinaryIO, max_bytes: int) -> None:
        self.sink = sink
        self.max_bytes = max_bytes
        self.written = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._stack: list[_Frame] = []
        self._done = False
        self._pending = ""  # the unprocessed tail of the last chunk (a cut escape)
        self._string: Literal["key", "raw", "other"] | None = None
        self._key: list[str] = []
        self._literal = ""
        self._success: bool | None = None
        self._raw_found = False

    def feed(self, data: bytes) -> None:
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError:
            raise _bad("not UTF-8") from None
        self._scan(self._pending + text)

    def close(self) -> int:
        """Check the answer was whole and successful; returns the EML's size in bytes."""
        try:
            self._scan(self._pending + self._decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            raise _bad("not UTF-8") from None
        self._end_literal()
        if not self._done or self._pending or self._string is not None:
            raise _bad("it ends early")
        if self._success is not True:
            raise UnexpectedResponseError(f"{WHAT}: the answer is not a successful envelope")
        if not self._raw_found:
            raise UnexpectedResponseError(f"{WHAT}: the answer has no EML text")
        return self.written

    # -- scanning -----------------------------------------------------------------------------

    def _scan(self, text: str) -> None:
        self._pending = ""
        pos, end = 0, len(text)
        while pos < end:
            if self._string is not None:
                pos = self._in_string(text, pos)
                continue
            char = text[pos]
            if self._literal and not _LITERAL.match(char):
                self._end_literal()
            if char in _WHITESPACE:
                pos += 1
                continue
            self._structure(char)
            pos += 1

    def _in_string(self, text: str, pos: int) -> int:
        units_end = _UNITS.match(text, pos).end()  # type: ignore[union-attr]  # always matches
        if units_end < len(text) and text[units_end] == '"':
            self._string_part(text[pos:units_end])
            self._end_string()
            return units_end + 1
        rest = text[units_end:]
        if rest and (len(rest) >= 6 or not _PARTIAL_ESCAPE.fullmatch(rest)):
            raise _bad("an invalid escape in a string")
        if _ends_in_high_surrogate(text, pos, units_end):
            units_end -= 6  # its low half may be in the next chunk: decode them together
            rest = text[units_end:]
        self._string_part(text[pos:units_end])
        self._pending = rest
        return len(text)

    def _string_part(self, units: str) -> None:
        if self._string == "raw":
            data = _utf8(_unescape(units))
            self.written += len(data)
            if self.written > self.max_bytes:
                raise TooLargeError(
                    f"the raw message is larger than {self.max_bytes:,} bytes", limit=self.max_bytes
                )
            self.sink.write(data)
        elif self._string == "key":
            self._key.append(units)
            if sum(map(len, self._key)) > _MAX_KEY:
                raise _bad("an overlong key")

    def _end_string(self) -> None:
        role, self._string = self._string, None
        if role == "key":
            frame = self._stack[-1]
            frame.key, frame.state = _unescape("".join(self._key)), "colon"
            self._key = []
            return
        if role == "raw":
            if self._raw_found:
                raise _bad("two EML texts")
            self._raw_found = True
        self._value_done()

    def _structure(self, char: str) -> None:
        frame = self._stack[-1] if self._stack else None
        if frame is not None and frame.kind == "{" and frame.state in ("first", "key"):
            if char == "}" and frame.state == "first":
                self._close()
            elif char == '"':
                self._string = "key"
            else:
                raise _bad("a key was expected")
        elif frame is not None and frame.kind == "{" and frame.state == "colon":
            if char != ":":
                raise _bad("':' was expected")
            frame.state = "value"
        elif frame is not None and frame.state == "next":
            if char == ",":
                frame.state = "key" if frame.kind == "{" else "value"
            elif char == ("}" if frame.kind == "{" else "]"):
                self._close()
            else:
                raise _bad("',' or a closing bracket was expected")
        elif frame is not None and frame.kind == "[" and frame.state == "first" and char == "]":
            self._close()
        else:
            self._value(char)

    def _value(self, char: str) -> None:
        if self._done:
            raise _bad("text after the end")
        if char in "{[":
            if len(self._stack) >= _MAX_DEPTH:
                raise _bad("nested too deep")
            self._stack.append(_Frame("{" if char == "{" else "["))
        elif char == '"':
            self._string = "raw" if self._path() == ("result", "raw") else "other"
        elif _LITERAL.match(char):
            self._literal += char
        else:
            raise _bad("a value was expected")

    def _end_literal(self) -> None:
        if not self._literal:
            return
        literal, self._literal = self._literal, ""
        if len(literal) > _MAX_LITERAL or not (
            literal in ("true", "false", "null") or _NUMBER.fullmatch(literal)
        ):
            raise _bad("an invalid literal")
        if self._path() == ("success",):
            self._success = literal == "true"
        self._value_done()

    def _close(self) -> None:
        self._stack.pop()
        self._value_done()

    def _value_done(self) -> None:
        if self._stack:
            self._stack[-1].state = "next"
        else:
            self._done = True

    def _path(self) -> tuple[str, ...]:
        return tuple(f.key or "" if f.kind == "{" else "#" for f in self._stack)
