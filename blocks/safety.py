"""The one text-safety layer. Every string from an email or the API (subjects, names, addresses,
reasons, header values, links, file names, ids, trace lines, anything from the API's message
models) passes `safe` exactly once, at render time, before it reaches Slack.

`safe` is told what kind of value it renders (`Kind`), so that copy and paste works both ways:
what the bot shows can be pasted into any command (`bot.refang` reads defanged input back).
- `Kind.ATTACKER` (the default): links, domains and addresses an email's author controls
  (sender addresses, link and sender domains, URLs), and free text (subjects, detection reasons,
  header values). Defanged, so that no phishing link is one click away. The default because a
  value nobody classified is then at worst harder to copy, never a live link.
- `Kind.LITERAL`: the tenant's own values and identifiers: recipients (its own mailboxes),
  Message-IDs, file names, investigate, postfix and request ids, numbers. Shown as they are,
  in an inline code span: Slack neither auto-links nor formats text in a code span (and with
  `verbatim` on, nothing is parsed as a mention), and Slack's copy takes a code span whole,
  where plain text splits at `-` and `.`. Defanging would only spoil the copy
  (`noah[.]fischer@…` is not the mailbox). A Message-ID or a file name is written by the sender,
  but it is a name to compare and search, not a place to visit: the code span keeps it from
  becoming a link.
- `Kind.SENTENCE`: a notice the bot composed around what a person typed, with code spans of
  its own (`No message with id `x``): defanged like attacker text, its backticks kept. Only for
  a text object that holds nothing else, never beside a literal.
A code span is only as safe as its backticks are paired. Slack has no escape for a backtick,
so one inside a value (literal or attacker text: a subject beside a file name could otherwise
close the file name's span early and leave it linkable) is shown as `\u02cb` (modifier
letter grave accent), as in the trace's code fences; `clamp` never leaves a span open.
Every kind is cleaned, escaped once and truncated, and loses mass mentions.

Why each step exists:
1. Clean: control characters can break layouts and logs; zero-width characters hide text from the
   analyst (and split words so filters miss them); bidi controls reorder what is displayed
   (`invoice\u202efdp.exe` shows as `invoiceexe.pdf`), so each is replaced by a visible marker.
2. Defang (attacker and sentence kinds): Slack turns `https://…`, bare domains and e-mail
   addresses into clickable links (even in `verbatim` text, where only mrkdwn parsing is off),
   and a phishing URL must never be one click away. Breaking the scheme and every dot between
   labels stops the auto-linker, the way analysts write indicators (`hxxps://evil[.]example`).
   One notation: the text is first made plain with `bot.refang` (the API's own reasons write
   `example[dot]com`, others `(.)`), then defanged, so every dot shows as `[.]`. A dot between
   two digits (`score 8.4`, `0.93`, `v1.2.3`) is a number, not a host (no top-level domain
   starts with a digit), and stays; a run of four or more dotted numbers is an IPv4 address, a
   host, and is defanged. Bare `@channel`/`@here`/`@everyone` become `[@]channel` (every kind),
   in case any surface parses them without `<!…>`.
3. Escape: `&`, `<`, `>` are Slack's control characters; unescaped, `<!channel>`, `<@U…>`,
   `<!subteam^…>` and `<https://evil|Click>` become mentions and disguised links. Exactly these
   three are escaped, once (Slack decodes only these; `&amp;` escaped again shows as `&amp;`).
4. Truncate: Block Kit rejects the whole payload when one field is too long; the limit counts
   the escaped text (with a literal's backticks) and never cuts an entity in half, and `…`
   shows that something was cut.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from bot.refang import refang

BIDI_MARK = "[bidi]"
ELLIPSIS = "…"
# What a backtick in a value is shown as: a raw one would open or close a code span.
BACKTICK_STANDIN = "\u02cb"


class Kind(Enum):
    """What a value is, which decides how `safe` shows it (see the module docstring)."""

    ATTACKER = "attacker"  # links, domains, sender addresses, free text: defanged
    LITERAL = "literal"  # recipients, Message-IDs, file names, ids, numbers: as is, code span
    SENTENCE = "sentence"  # our notice quoting input in our own code spans: defanged


# Explicit embeddings/overrides/isolates and the Arabic letter mark: they reorder display.
BIDI_CONTROLS = frozenset(chr(c) for c in (0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# Zero-width and invisible characters. Most are Unicode category Cf (all of which are dropped);
# listed explicitly so the intent is visible, plus invisible letters that are not Cf (Hangul
# fillers, the combining grapheme joiner) and are used to pad lookalike names.
INVISIBLE = frozenset(
    chr(c)
    for c in (
        *range(0x200B, 0x2010),
        *range(0x2060, 0x2065),
        0xFEFF,
        0x034F,
        0x115F,
        0x1160,
        0x17B4,
        0x17B5,
        0x3164,
        0xFFA0,
    )
)
# Everything that ends a line, including the C1 NEL and Unicode line/paragraph separators.
_LINE_BREAKS = frozenset("\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Raw input beyond this many characters per unit of limit cannot all fit, so it is cut before
# the per-character work (an ellipsis still shows the cut).
_INPUT_FACTOR = 8

# `http`/`https` and `ftp`/`ftps` before a colon: the usual defanged forms.
_HTTP = re.compile(r"(h)tt(ps?)(?=:)", re.IGNORECASE)
_FTP = re.compile(r"(f)t(ps?)(?=:)", re.IGNORECASE)
# Any other `scheme://` (ssh, smb, slack, …): break the separator itself.
_OTHER_SCHEME = re.compile(r"(?<!hxxp)(?<!hxxps)(?<!fxp)(?<!fxps)://", re.IGNORECASE)
# Schemes without `//` that clients still act on: the script and mail ones anywhere (they are
# never part of a normal word), the others only as a whole word (`profile:` is not `file:`).
_OPAQUE_SCHEME = re.compile(
    r"(mailto|javascript|vbscript|(?<![A-Za-z0-9])(?:data|file|tel|sms|callto)):(?=\S)",
    re.IGNORECASE,
)
# A dot (or a full stop IDNA treats as one) with text on its left and a label character on its
# right: hostnames, e-mail domains, IPs, and also `file.zip` (`.zip` is a real TLD) and the
# dots of an address's local part; over-defanging costs looks, under-defanging a live link.
_DOT_CHARS = frozenset(".\u3002\uff0e\uff61")
_DOT = re.compile(r"(?<=\S)[.\u3002\uff0e\uff61](?=[\w-])")
# A number's dot (`8.4`); four or more dotted numbers are an IPv4 address, a host.
_NUMBER_DOT = re.compile(r"[0-9]\.[0-9]")
_DOTTED_QUAD = re.compile(r"(?<![0-9])[0-9]+(?:\.[0-9]+){3,}")
_DIGITS = frozenset("0123456789")
# Words some Slack parsers turn into mass notifications even without `<!…>` syntax.
_MASS_MENTION = re.compile(r"(?<![\w@.])@(here|channel|everyone)\b", re.IGNORECASE)


def text_width(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji outside the BMP counts 2), which
    is never less than Python's `len`, so a text within this width is within both."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: str, *, multiline: bool = False) -> str:
    """Step 1: drop control, format and invisible characters; mark bidi controls; turn line
    breaks and tabs into spaces (or keep line breaks as `\\n` when `multiline`)."""
    if text.isascii() and text.isprintable():  # most text: nothing to drop or mark
        return text.strip()
    out: list[str] = []
    for char in text.replace("\r\n", "\n").replace("\r", "\n"):
        if char in BIDI_CONTROLS:
            out.append(BIDI_MARK)
        elif char in _LINE_BREAKS:
            out.append("\n" if multiline else " ")
        elif char == "\t":
            out.append(" ")
        elif char in INVISIBLE or unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            continue
        else:
            out.append(char)
    return "".join(out).strip()


def defang(text: str) -> str:
    """Step 2: make URLs, domains, addresses and IPs unclickable, in one notation (`[.]`, `[:]`,
    `hxxp`), leaving numbers (`8.4`) as they are; idempotent."""
    text = refang(text)  # `[dot]`, `(.)`, `hxxp[:]//`…: plain first, so all come out alike
    # Each pattern needs its character; skipping a search that cannot match halves the cost.
    if ":" in text:
        text = _HTTP.sub(r"\1xx\2", text)
        text = _FTP.sub(r"\1x\2", text)
        text = _OTHER_SCHEME.sub("[:]//", text)
        text = _OPAQUE_SCHEME.sub(r"\1[:]", text)
    if not _DOT_CHARS.isdisjoint(text):
        text = _defang_dots(text)
    return _no_mass_mention(text)


def _defang_dots(text: str) -> str:
    """Every dot between labels as `[.]`, except an ASCII dot between two digits outside an IPv4
    address: a number cannot be a host (no top-level domain starts with a digit, and the dot
    before the top-level domain is always broken), and `score 8[.]4` only hinders reading."""
    if not _NUMBER_DOT.search(text):
        return _DOT.sub("[.]", text)  # no number: every dot, without a call per dot
    hosts = [m.span() for m in _DOTTED_QUAD.finditer(text)]

    def dot(match: re.Match[str]) -> str:
        at = match.start()
        number = text[at] == "." and text[at - 1] in _DIGITS and text[at + 1] in _DIGITS
        if number and not any(start < at < end for start, end in hosts):
            return "."
        return "[.]"

    return _DOT.sub(dot, text)


def _no_mass_mention(text: str) -> str:
    return _MASS_MENTION.sub(r"[@]\1", text) if "@" in text else text


def escape(text: str) -> str:
    """Step 3 alone: escape `&`, `<`, `>` for mrkdwn. For text we write ourselves that contains
    these characters (usage lines like `lookup <id>`); attacker text goes through `safe`."""
    return "".join(_ESCAPES.get(c, c) for c in text)


def safe(
    text: str | None, limit: int, *, kind: Kind = Kind.ATTACKER, multiline: bool = False
) -> str:
    """`text` made fit for any Slack text field of at most `limit` characters: cleaned,
    defanged (attacker kind) or put in a code span (literal kind), escaped once, truncated with
    `…`. `""` for None, and for a literal with nothing left of it. Attacker is the default: a
    value nobody classified is defanged, which at worst spoils a copy, never makes a link."""
    if limit < 1 or (kind is Kind.LITERAL and limit < 3):
        raise ValueError(f"limit must be at least 1 (3 for a literal), got {limit}")
    if kind is Kind.LITERAL and multiline:
        raise ValueError("a literal is one line: a code span cannot hold a line break")
    if text is None:
        return ""
    room = limit - 2 if kind is Kind.LITERAL else limit  # a literal's two backticks
    cut_early = len(text) > _INPUT_FACTOR * room + 64
    if cut_early:
        text = text[: _INPUT_FACTOR * room + 64]
    text = clean(text, multiline=multiline)
    if kind is not Kind.LITERAL:
        text = defang(text)  # first: BACKTICK_STANDIN counts as a letter to `defang`
    if kind is not Kind.SENTENCE and "`" in text:
        text = text.replace("`", BACKTICK_STANDIN)
    if kind is Kind.LITERAL:
        text = _no_mass_mention(text)
        if not text:
            return ""
    if not cut_early and _ESCAPES.keys().isdisjoint(text) and text_width(text) <= room:
        fitted = text  # nothing to escape and it fits: the usual case, without per-character work
    else:
        fitted = _fit([_ESCAPES.get(c, c) for c in text], room, force_ellipsis=cut_early)
    return f"`{fitted}`" if kind is Kind.LITERAL else fitted


def _fit(units: list[str], limit: int, *, force_ellipsis: bool) -> str:
    """Join `units` (single characters or whole entities) within `limit`, never splitting one."""
    whole = "".join(units)
    if not force_ellipsis and text_width(whole) <= limit:
        return whole
    kept: list[str] = []
    used = 0
    for unit in units:
        size = text_width(unit)
        if used + size > limit - len(ELLIPSIS):
            break
        kept.append(unit)
        used += size
    return "".join(kept).rstrip() + ELLIPSIS


_OPEN_TOKEN = re.compile(r"<[^>]*$|&[a-z]*$")


def clamp(text: str, limit: int) -> str:
    """Truncate mrkdwn we composed ourselves (already safe, may hold `<@U…>` mentions, entities
    and literals' code spans) to `limit` without cutting a `<…>` token, an `&…;` entity or a
    code span in half (every backtick in it is one of a pair: `safe` lets none through)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if text_width(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for char in text:
        used += text_width(char)
        if used > limit - len(ELLIPSIS):
            break
        kept.append(char)
    head = _OPEN_TOKEN.sub("", "".join(kept))
    if head.count("`") % 2:  # cut inside a code span: drop it, or its value would be linkable
        head = head[: head.rindex("`")]
    return head.rstrip() + ELLIPSIS
