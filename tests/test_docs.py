"""The documentation against the code it describes: .env.example, the configuration table
(docs/configuration.md), install commands (docs/install.md), troubleshooting quotes
(docs/troubleshooting.md), the links between the pages, SECURITY.md's scopes, and the README's
console session (its commands exist, its wording is the code's, it fits 80 columns). Each test
fails when the code moves and the documentation does not."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from bot.commands import VERBS
from bot.config import Settings
from bot.local.columns import SCREEN_COLUMNS, columns
from bot.local.console import HELP
from bot.roles import Role
from tests.kit.servers import DOCKERFILE, ROOT

README = ROOT / "README.md"
SECURITY = ROOT / "SECURITY.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
TROUBLESHOOTING = DOCS / "troubleshooting.md"
INSTALL = DOCS / "install.md"
PAGES = [README, SECURITY, ROOT / "bench" / "README.md", *sorted(DOCS.glob("*.md"))]
ENV_EXAMPLE = ROOT / ".env.example"
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_name(field: str) -> str:
    info = Settings.model_fields[field]
    alias = info.validation_alias or info.alias
    return str(alias).upper() if isinstance(alias, str) else field.upper()


SETTINGS = {env_name(field): field for field in Settings.model_fields}


def env_example() -> dict[str, tuple[bool, str]]:
    """NAME -> (commented out, value) for every `NAME=value` line, commented or not."""
    found: dict[str, tuple[bool, str]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := ASSIGNMENT.match(line.strip()):
            name = match[2]
            assert name not in found, f"{name} is set twice in .env.example"
            found[name] = (match[1] is not None, match[3])
    return found


def flat(text: str) -> str:
    """Markdown with its line breaks and indents folded, as it reads."""
    return " ".join(text.split())


def test_env_example_names_every_setting_and_nothing_else() -> None:
    named = env_example()
    assert set(SETTINGS) - set(named) == set(), "settings missing from .env.example"
    assert set(named) - set(SETTINGS) == set(), ".env.example names settings that do not exist"


def test_env_example_shows_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.upper() in SETTINGS]:
        monkeypatch.delenv(name)
    shown = {n: v for n, (commented, v) in env_example().items() if commented and v}
    with_default = {
        n for n, f in SETTINGS.items() if Settings.model_fields[f].default not in (None, ())
    }
    assert with_default - set(shown) == set(), "each setting with a default shows it"
    for name, value in shown.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # an invalid example value fails here, naming the setting
    for name in shown:
        field = SETTINGS[name]
        assert getattr(settings, field) == Settings.model_fields[field].default, name


def test_env_example_holds_no_secret_and_no_value_that_would_stop_the_bot() -> None:
    named = env_example()
    for name, field in SETTINGS.items():
        annotation = Settings.model_fields[field].annotation
        if SecretStr in getattr(annotation, "__args__", (annotation,)):
            assert named[name][1] == "", f"{name}: the example carries no secret"
    # Only settings that accept an empty value are left uncommented and empty.
    empty = {n for n, (commented, v) in named.items() if not commented and not v}
    assert empty == {
        "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_API_TOKEN", "BOT_VIEWERS", "BOT_OPERATORS", "BOT_APPROVERS",
    }  # fmt: skip


def test_configuration_table_lists_every_setting_and_only_real_ones() -> None:
    listed = set()
    for row in re.findall(r"^\| (.+?) \|", CONFIGURATION.read_text(), re.M):
        listed |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row))
    assert set(SETTINGS) - listed == set(), "settings missing from docs/configuration.md"
    assert listed - set(SETTINGS) == set(), "docs/configuration.md names settings that do not exist"


def string_pieces() -> set[str]:
    """Every string literal of the bot's code, and each literal part of every f-string."""
    pieces: set[str] = set()
    for package in ("bot", "handlers", "blocks"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    pieces.add(node.value)
    return pieces


def test_troubleshooting_quotes_the_bots_own_words() -> None:
    quotes = re.findall(r"\*\*(.+?)\*\*", flat(TROUBLESHOOTING.read_text()))
    assert len(quotes) >= 25, "the troubleshooting entries quote the messages they explain"
    pieces = string_pieces()
    for quote in quotes:
        for fragment in (f.strip() for f in quote.split("…")):
            assert not fragment or any(fragment in p for p in pieces), (
                f"docs/troubleshooting.md quotes {quote!r}, but the code has no {fragment!r}"
            )


def anchor(title: str) -> str:
    """GitHub's id for a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def headings(page: Path) -> set[str]:
    return {anchor(h) for h in re.findall(r"^#{1,6} (.+)$", page.read_text(), re.M)}


@pytest.mark.parametrize("doc", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_between_the_docs_resolve(doc: Path) -> None:
    """Every relative link names a file that exists, and a `#part` a heading in it."""
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, part = target.partition("#")
        page = (doc.parent / path).resolve() if path else doc
        assert page.exists(), f"{target}: no such file"
        if part:
            assert part in headings(page), f"{target}: no such heading"


def test_install_without_docker_runs_the_images_pip_commands() -> None:
    shown = re.findall(r"bin/pip install (.+)$", INSTALL.read_text(), re.M)
    assert len(shown) == 2
    dockerfile = flat(DOCKERFILE.read_text().replace("\\\n", " "))
    for args in shown:
        assert f"/venv/bin/pip install {args.strip()}" in dockerfile, args


def test_security_md_names_exactly_the_manifest_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    match = re.search(r"scopes \(`manifest\.yml`\): (.+?)\. ", flat(SECURITY.read_text()))
    assert match, "SECURITY.md lists the bot token's scopes"
    assert set(re.findall(r"`([^`]+)`", match[1])) == scopes


def test_security_md_covers_the_threat_model() -> None:
    headings = re.findall(r"^## (.+)$", SECURITY.read_text(), re.M)
    for threat in ("attacker-controlled email content", "insider misuse", "token theft"):
        assert f"Threat: {threat}" in headings
    assert "Reporting a vulnerability" in headings


# --- the README's console session -------------------------------------------------------------

PROMPT = re.compile(r"^U0[A-Z0-9]+@#C0[A-Z0-9]+> ?(.*)$")
PHRASE = re.compile(r"[A-Za-z][\w']*(?: [A-Za-z][\w']*){3,}")  # four words or more
# The run's data: addresses, links, ids, times, and words in capitals (MALICIOUS, SPF).
DATA = re.compile(r"[/@\[\]`=#<>]|\d|^[A-Z_]{2,}\W*$")


def phrases(line: str) -> list[str]:
    """The runs of three words or more of a line, its data left out."""
    shown = re.sub(r"\S+", lambda m: "|" if DATA.search(m[0]) else m[0], line.replace("*", ""))
    return PHRASE.findall(shown)


LEFT_OUT = "[…]"


def transcript() -> list[str]:
    match = re.search(
        r"^## What it looks like\n.*?^```text\n(.*?)^```", README.read_text(), re.S | re.M
    )
    assert match, "the README shows a console session under 'What it looks like'"
    return match[1].splitlines()


def typed() -> list[str]:
    return [m[1] for line in transcript() if (m := PROMPT.match(line)) and m[1]]


def test_the_readme_session_fits_an_80_column_terminal() -> None:
    lines = transcript()
    assert len(lines) > 50 and typed()
    assert [line for line in lines if columns(line) > SCREEN_COLUMNS] == []


def test_the_readme_session_types_only_commands_that_exist() -> None:
    """What the person types is a console command of `help`, or an /email verb."""
    commands = {
        word
        for line in HELP.splitlines()
        for part in line.split("  ")[1].split(" | ")
        if (word := part.split(" ")[0].strip())
    }  # fmt: skip
    for line in typed():
        word, _, rest = line.partition(" ")
        if word == "/email":
            assert rest.split(" ")[0] in VERBS, line
        else:
            assert word in commands, f"{line!r}: the console's help has no {word!r}"
    wanted = {"/email", "click", "yes", "set", "submit", "user", "alerts", "alert"}
    assert {line.split(" ")[0] for line in typed()} >= wanted, "the session shows the tour"


def test_the_readme_session_says_what_the_code_says() -> None:
    """Every run of four words or more the session shows comes from the code (the bot's, the
    console's, the simulator's sample mail) or from what the person typed, give or take a
    word at either end that the code computes ("Released" through approval request): when
    the wording changes, the session has to be run again."""
    pieces = [p.replace("*", "") for p in string_pieces()]
    said = " ".join(typed())
    for line in transcript():
        if PROMPT.match(line) or line.strip() in (LEFT_OUT, "$ make run"):
            continue
        for phrase in phrases(line):
            words = phrase.split(" ")
            forms = [" ".join(w) for w in (words, words[1:], words[:-1]) if len(w) >= 3]
            assert any(form in said or any(form in p for p in pieces) for form in forms), (
                f"the README's session shows {phrase!r} ({line.strip()!r}), which no code says"
            )


def test_the_readme_lists_every_verb_with_its_role() -> None:
    """The README's command table names each verb of the verb table in its role's row."""
    rows = dict(re.findall(r"^\| (viewer|operator|approver) \| (.+) \|$", README.read_text(), re.M))
    for verb, spec in VERBS.items():
        role = spec.role or Role.VIEWER  # help: anyone
        assert f"`{verb}`" in rows[role.value], f"the README lists `{verb}` for {role.value}s"
