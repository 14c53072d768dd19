"""`blocks.safety.safe`: whatever an email's author writes, what reaches Slack cannot mention,
link, hide or reorder text, or break a length limit; and it is escaped exactly once. Attacker
text is defanged in one notation (`[.]`) and numbers stay numbers; the tenant's literals are
shown as they are, in a code span nothing can close early."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.safety import (
    BACKTICK_STANDIN,
    BIDI_CONTROLS,
    BIDI_MARK,
    INVISIBLE,
    Kind,
    clamp,
    clean,
    defang,
    escape,
    safe,
    text_width,
)
from tests.kit.factories import HOSTILE

hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)), max_size=40).map(
    "".join
)
repeated = st.builds(lambda piece, n: piece * n, st.sampled_from(HOSTILE), st.integers(1, 1500))
any_text = st.one_of(st.text(), hostile_text, repeated)
limits = st.integers(min_value=1, max_value=3000)

ENTITY = re.compile(r"&(?:amp|lt|gt);")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# Every place a dot sits between two word characters (overlapping: `1.2.3` has two). The
# backtick's stand-in (a modifier letter, so `\w`) stands for a backtick, which no host name
# holds: "0." and a backtick is shown as 0, a dot and the stand-in: a number, not a host.
_LABEL = r"(?:(?!\u02cb)\w)"
DOT_BETWEEN = re.compile(rf"(?=({_LABEL}[.\u3002\uff0e\uff61]{_LABEL}))")
DOTTED_QUAD = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")


def assert_no_host(out: str) -> None:
    """No dot is left between labels, but for a number's (`8.4`); and no IPv4 address."""
    for found in DOT_BETWEEN.finditer(out):
        assert re.fullmatch(r"[0-9]\.[0-9]", found[1]), f"an undefanged dot: {found[1]!r}"
    assert not DOTTED_QUAD.search(out), "an undefanged IPv4 address"


def assert_marked_up_safely(out: str, limit: int, *, multiline: bool = False) -> None:
    """What both kinds promise: no control sequence, no bare `&`, no mass mention, nothing
    invisible or reordering, within the limit."""
    assert "<" not in out and ">" not in out
    assert "&" not in ENTITY.sub("", out), "an & that is not an entity"
    assert not re.search(r"(?<![\w@.\[])@(here|channel|everyone)\b", out, re.IGNORECASE)
    for char in out:
        if multiline and char == "\n":
            continue
        assert unicodedata.category(char) not in ("Cc", "Cf", "Cs"), repr(char)
        assert char not in INVISIBLE and char not in BIDI_CONTROLS, repr(char)
    assert len(out) <= text_width(out) <= limit


def assert_safe(out: str, limit: int, *, multiline: bool = False) -> None:
    assert_marked_up_safely(out, limit, multiline=multiline)
    assert "`" not in out, "a backtick would open or close a code span"
    lowered = out.lower()
    for scheme in ("http://", "https://", "ftp://"):
        assert scheme not in lowered
    assert not re.search(r"(mailto|javascript|vbscript|\bdata|\bfile):\S", lowered)
    assert_no_host(out)


@settings(max_examples=300, deadline=None)
@given(any_text, limits)
def test_output_is_safe(text: str, limit: int) -> None:
    assert_safe(safe(text, limit), limit)


@settings(max_examples=150, deadline=None)
@given(any_text, limits)
def test_multiline_output_is_safe(text: str, limit: int) -> None:
    assert_safe(safe(text, limit, multiline=True), limit, multiline=True)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), hostile_text))
def test_escaped_exactly_once(text: str) -> None:
    """Undoing one round of escaping gives back the cleaned, defanged text: nothing was escaped
    twice (`&amp;amp;`) and nothing was left unescaped."""
    assert unescape(safe(text, 100_000)) == defang(clean(text)).replace("`", BACKTICK_STANDIN)


@settings(max_examples=200, deadline=None)
@given(st.one_of(any_text, st.text(alphabet=st.characters(codec="utf-8"))))
def test_width_counts_utf16_code_units(text: str) -> None:
    assert text_width(text) == sum(2 if ord(c) > 0xFFFF else 1 for c in text)


@settings(max_examples=200, deadline=None)
@given(any_text, limits)
def test_truncation_keeps_a_prefix_and_says_so(text: str, limit: int) -> None:
    full = safe(text, 1_000_000)
    out = safe(text, limit)
    if out == full:
        return
    assert out.endswith("…")
    head = out[:-1]
    if len(text) <= 8 * limit:  # beyond that the input is cut before processing
        assert full.startswith(head)
    assert not re.search(r"&[a-z]*$", head), "an entity cut in half"


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_defang_is_idempotent(text: str) -> None:
    once = defang(clean(text))
    assert defang(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://evil.example/x", "hxxps://evil[.]example/x"),
        ("http://evil.example", "hxxp://evil[.]example"),
        ("HTTPS://EVIL.EXAMPLE", "HxxPS://EVIL[.]EXAMPLE"),
        ("bob@evil.example", "bob@evil[.]example"),
        ("1.2.3.4", "1[.]2[.]3[.]4"),
        ("evil\u3002example", "evil[.]example"),
        ("mailto:bob@evil.example", "mailto[:]bob@evil[.]example"),
        ("ftp://files.evil.example", "fxp://files[.]evil[.]example"),
        ("ssh://evil.example", "ssh[:]//evil[.]example"),
        ("javascript:alert(1)", "javascript[:]alert(1)"),
        ("<https://evil.example|Click>", "&lt;hxxps://evil[.]example|Click&gt;"),
        ("<!channel> <@U123ABC>", "&lt;!channel&gt; &lt;@U123ABC&gt;"),
        ("<!subteam^S123|grp>", "&lt;!subteam^S123|grp&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&amp;", "&amp;amp;"),  # the sender's literal text, shown as typed
        ("@channel look", "[@]channel look"),
        ("end. Next", "end. Next"),
        ("invoice\u202efdp.exe", f"invoice{BIDI_MARK}fdp[.]exe"),
        ("pay\u200bpal", "paypal"),
        ("a\nb\tc\x00d", "a b cd"),
        ("  padded  ", "padded"),
        ("", ""),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert safe(text, 3000) == expected


def test_none_is_empty() -> None:
    assert safe(None, 10) == ""


def test_multiline_keeps_line_breaks_only() -> None:
    assert safe("a\r\nb\u2028c\td", 100, multiline=True) == "a\nb\nc d"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "ab…"),
        ("abc", 1, "…"),
        ("&&&&", 10, "&amp;…"),  # never `&am…`
        ("<<", 8, "&lt;&lt;"),
        ("<<", 7, "&lt;…"),
        ("😀😀😀😀", 5, "😀😀…"),  # astral characters count twice
    ],
)
def test_truncation(text: str, limit: int, expected: str) -> None:
    assert safe(text, limit) == expected


def test_huge_input_is_cut_with_an_ellipsis() -> None:
    out = safe("\u200b" * 100_000 + "visible", 10)
    assert out == "…"


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        safe("x", 0)


def test_escape_only_escapes() -> None:
    assert escape("lookup <id> & more.example") == "lookup &lt;id&gt; &amp; more.example"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Released by <@U123ABC>", 100, "Released by <@U123ABC>"),
        ("hi <@U12345678> there", 8, "hi…"),
        ("a &amp; b", 5, "a…"),
        ("abcdef", 4, "abc…"),
    ],
)
def test_clamp_never_cuts_a_token(text: str, limit: int, expected: str) -> None:
    assert clamp(text, limit) == expected


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab <@U1>&;", max_size=200), limits)
def test_clamp_within_limit(text: str, limit: int) -> None:
    out = clamp(text, limit)
    assert text_width(out) <= limit
    if out != text:
        assert out.endswith("…")


# --- one notation, and numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Spam content score 8.4", "Spam content score 8.4"),
        ("confidence 0.93, version v1.2.3", "confidence 0.93, version v1.2.3"),
        ("Sender IP 1.2.3.4 is listed", "Sender IP 1[.]2[.]3[.]4 is listed"),
        ("10.0.0.1:25 and 1.2.3.4.5", "10[.]0[.]0[.]1:25 and 1[.]2[.]3[.]4[.]5"),
        ("host a.1.2.3.4", "host a[.]1[.]2[.]3[.]4"),
        ("mail1.example.com", "mail1[.]example[.]com"),
        ("8\u30024", "8[.]4"),  # only an ASCII dot makes a number
        ("Lookalike of tenant domain example[dot]com", "Lookalike of tenant domain example[.]com"),
        ("SPF fail from 203[dot]0[dot]113[dot]9", "SPF fail from 203[.]0[.]113[.]9"),
        ("pbx(.)notify{.}test [ dot ] x", "pbx[.]notify[.]test . x"),
        ("hxxp[:]//evil[.]example/x", "hxxp://evil[.]example/x"),
        ("bob[at]evil[dot]example", "bob@evil[.]example"),
        ("Box [x] (draft)", "Box [x] (draft)"),
    ],
)
def test_attacker_text_uses_one_notation_and_keeps_numbers(text: str, expected: str) -> None:
    assert safe(text, 3000) == expected


# --- literals: the tenant's own values -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("noah.fischer@eu.example.com", "`noah.fischer@eu.example.com`"),
        ("<022e6a14d373.68020@pbx-notify.test>", "`&lt;022e6a14d373.68020@pbx-notify.test&gt;`"),
        ("Q3 results.v2.xlsx", "`Q3 results.v2.xlsx`"),
        ("8.4", "`8.4`"),
        (
            "U1eHfGhAzC1iyg7I-2026-11-21T05:17:05-d40e782a",
            "`U1eHfGhAzC1iyg7I-2026-11-21T05:17:05-d40e782a`",
        ),
        ("<!channel>", "`&lt;!channel&gt;`"),
        ("<https://x|y>", "`&lt;https://x|y&gt;`"),
        ("a`b", f"`a{BACKTICK_STANDIN}b`"),  # a backtick would end the span
        ("```", f"`{BACKTICK_STANDIN * 3}`"),
        ("invoice\u202efdp.exe", f"`invoice{BIDI_MARK}fdp.exe`"),
        ("pay\u200bpal.com", "`paypal.com`"),
        ("@here please", "`[@]here please`"),
        ("@channel", "`[@]channel`"),
        ("Tom & Jerry", "`Tom &amp; Jerry`"),
        ("a\nb", "`a b`"),
        ("  ", ""),
        ("", ""),
    ],
)
def test_literal_examples(text: str, expected: str) -> None:
    assert safe(text, 3000, kind=Kind.LITERAL) == expected


def test_literal_none_is_empty() -> None:
    assert safe(None, 10, kind=Kind.LITERAL) == ""


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 5, "`abc`"),
        ("abcd", 5, "`ab…`"),  # the limit counts the backticks
        ("abc", 3, "`…`"),
        ("&&&&", 10, "`&amp;…`"),
    ],
)
def test_literal_truncation(text: str, limit: int, expected: str) -> None:
    assert safe(text, limit, kind=Kind.LITERAL) == expected


def test_a_literal_needs_room_for_its_backticks_and_one_line() -> None:
    with pytest.raises(ValueError, match="limit"):
        safe("x", 2, kind=Kind.LITERAL)
    with pytest.raises(ValueError, match="line"):
        safe("x", 10, kind=Kind.LITERAL, multiline=True)


@settings(max_examples=300, deadline=None)
@given(any_text, st.integers(min_value=3, max_value=3000))
def test_literal_output_is_one_closed_code_span(text: str, limit: int) -> None:
    out = safe(text, limit, kind=Kind.LITERAL)
    assert_marked_up_safely(out, limit)
    if out:
        assert re.fullmatch(r"`[^`]+`", out), out


@settings(max_examples=200, deadline=None)
@given(any_text, any_text)
def test_attacker_text_beside_a_literal_cannot_open_its_span(attacker: str, value: str) -> None:
    """A subject or content type holding a backtick, beside a file name or Message-ID, must not
    pair with the literal's backticks: the literal would end up outside a span, linkable."""
    literal = safe(value, 300, kind=Kind.LITERAL)
    line = f"{safe(attacker, 300)} {literal} {safe(attacker, 300)}"
    assert line.count("`") == (2 if literal else 0)


def test_a_sentence_keeps_its_own_code_spans_and_is_defanged() -> None:
    said = safe("No message with id `evil.example`. Try <!here>", 200, kind=Kind.SENTENCE)
    assert said == "No message with id `evil[.]example`. Try &lt;!here&gt;"


def test_clamp_never_leaves_a_code_span_open() -> None:
    line = f"Released: delivered to {safe('noah.fischer@eu.example.com', 60, kind=Kind.LITERAL)}"
    for limit in range(5, len(line)):
        cut = clamp(line, limit)
        assert cut.count("`") % 2 == 0, cut
    assert clamp(line, 40) == "Released: delivered to…"
