"""The one text-safety layer. Every string an email's author controls (subjects, names, addresses,
reasons, header values, links, file names, trace lines, anything from the API's message models)
passes `safe` exactly once, at render time, before it reaches Slack.

Why each step exists:
1. Clean: control characters can break layouts and logs; zero-width characters hide text from the
   analyst (and split words so filters miss them); bidi controls reorder what is displayed
   (`invoice\u202efdp.exe` shows as `invoiceexe.pdf`), so each is replaced by a visible marker.
2. Defang: Slack turns `https://…`, bare domains and e-mail addresses into clickable links
   (even in `verbatim` text, where only mrkdwn parsing is off), and a phishing URL must never be
   one click away. Breaking the scheme and every dot between labels stops the auto-linker, the way
   analysts write indicators (`hxxps://evil[.]example`). Bare `@channel`/`@here`/`@everyone`
   become `[@]channel`, in case any surface parses them without `<!…>`.
3. Escape: `&`, `<`, `>` are Slack's control characters; unescaped, `<!channel>`, `<@U…>`,
   `<!subteam^…>` and `<https://evil|Click>` become mentions and disguised links. Exactly these
   three are escaped, once (Slack decodes only these; `&amp;` escaped again shows as `&amp;`).
4. Truncate: Block Kit rejects the whole payload when one field is too long; the limit counts
   the escaped text and never cuts an entity in half, and `…` shows that something was cut.
"""

from __future__ import annotations

import re
import unicodedata

BIDI_MARK = "[bidi]"
ELLIPSIS = "…"

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
    """Step 2: make URLs, domains, addresses and IPs unclickable (idempotent)."""
    # Each pattern needs its character; skipping a search that cannot match halves the cost.
    if ":" in text:
        text = _HTTP.sub(r"\1xx\2", text)
        text = _FTP.sub(r"\1x\2", text)
        text = _OTHER_SCHEME.sub("[:]//", text)
        text = _OPAQUE_SCHEME.sub(r"\1[:]", text)
    if not _DOT_CHARS.isdisjoint(text):
        text = _DOT.sub("[.]", text)
    if "@" in text:
        text = _MASS_MENTION.sub(r"[@]\1", text)
    return text


def escape(text: str) -> str:
    """Step 3 alone: escape `&`, `<`, `>` for mrkdwn. For text we write ourselves that contains
    these characters (usage lines like `lookup <id>`); attacker text goes through `safe`."""
    return "".join(_ESCAPES.get(c, c) for c in text)


def safe(text: str | None, limit: int, *, multiline: bool = False) -> str:
    """Attacker-controlled `text` made fit for any Slack text field of at most `limit`
    characters: cleaned, defanged, escaped once, truncated with `…`. `""` for None."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if text is None:
        return ""
    cut_early = len(text) > _INPUT_FACTOR * limit + 64
    if cut_early:
        text = text[: _INPUT_FACTOR * limit + 64]
    text = defang(clean(text, multiline=multiline))
    if not cut_early and _ESCAPES.keys().isdisjoint(text) and text_width(text) <= limit:
        return text  # nothing to escape and it fits: the usual case, without per-character work
    units = [_ESCAPES.get(c, c) for c in text]
    return _fit(units, limit, force_ellipsis=cut_early)


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
    """Truncate mrkdwn we composed ourselves (already safe, may hold `<@U…>` mentions or
    entities) to `limit` without cutting a `<…>` token or an `&…;` entity in half."""
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
    return head.rstrip() + ELLIPSIS
