"""The container: Dockerfile, .dockerignore, requirements.lock and docker-compose.yml.

There is no Docker engine in CI, so the image is checked two ways. Statically: hadolint, a
numeric non-root user, a health check on /healthz, pinned base images, nothing secret in a
layer or in the build context. And by doing what the image does: the build stage's own
instructions (read from the Dockerfile, not copied here) are carried out into a fresh venv from
a build context filtered by .dockerignore, then the bot is started with the image's ENTRYPOINT
from an empty directory and probed with the image's HEALTHCHECK. A broken install step, a file
missing from the context or from the wheel, or a probe that cannot pass fails here.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from bot.config import Settings
from bot.simulator.cli import parser as simulator_parser
from tests.kit.http import LOCAL
from tests.kit.servers import (
    DOCKERFILE,
    ROOT,
    RedisProcess,
    SimulatorProcess,
    free_port,
    wait_until,
)
from tests.kit.slack import (
    BOT_TOKEN,
    OPERATOR,
    SIGNING_SECRET,
    Slack,
    StandinProcess,
    text_of,
)

COMPOSE = ROOT / "docker-compose.yml"
LOCK = ROOT / "requirements.lock"
# What the build stage may use: each is carried out by `build_image` below.
BUILD_STEPS = frozenset({"WORKDIR", "ENV", "COPY", "RUN"})
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE|CREDENTIAL", re.I)
SECRET_VALUE = re.compile(r"xox[abpr]-|xapp-|-----BEGIN|://[^/\s:@]+:[^/\s@]+@")


# -- reading a Dockerfile -----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    keyword: str
    args: str


@dataclass
class Stage:
    image: str
    name: str | None
    steps: list[Step] = field(default_factory=list)

    def all(self, keyword: str) -> list[Step]:
        return [s for s in self.steps if s.keyword == keyword]

    def one(self, keyword: str) -> Step:
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword} in stage {self.name or self.image}"
        return found[0]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages and their instructions; comment lines (also inside a continued instruction, as
    Docker reads them) are dropped and continued lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for entry in logical:
        keyword, _, args = entry.partition(" ")
        if keyword.upper() == "FROM":
            parts = args.split()
            named = len(parts) == 3 and parts[1].upper() == "AS"
            stages.append(Stage(parts[0], parts[2] if named else None))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].steps.append(Step(keyword.upper(), args.strip()))
    return stages


def split_flags(args: str) -> tuple[dict[str, str], str]:
    """Leading `--name=value` options of an instruction, and the rest."""
    flags: dict[str, str] = {}
    while match := re.match(r"--([\w-]+)(?:=(\S*))?\s+", args):
        flags[match.group(1)] = match.group(2) or ""
        args = args[match.end() :]
    return flags, args


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def env_pairs(args: str) -> dict[str, str]:
    pairs = {}
    for token in shlex.split(args):
        name, equals, value = token.partition("=")
        assert equals, f"ENV {args!r}: use the NAME=value form"
        pairs[name] = value
    return pairs


def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


def build_stage() -> Stage:
    found = stages()
    assert len(found) == 2, "a build stage and a runtime stage"
    return found[0]


def runtime_stage() -> Stage:
    return stages()[-1]


def healthcheck_argv(stage: Stage) -> list[str]:
    _, rest = split_flags(stage.one("HEALTHCHECK").args)
    assert rest.startswith("CMD "), "HEALTHCHECK CMD [...] (exec form: no shell in the probe)"
    return exec_form(rest.removeprefix("CMD "))


# -- .dockerignore ------------------------------------------------------------------------------


def _glob(pattern: str) -> str:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i + 1)
            out, i = out + "[" + pattern[i + 1 : end] + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


class DockerIgnore:
    """Docker's rules: patterns in order, the last one matching a path or any of its parent
    directories decides, `!` re-includes."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, str, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
            self.rules.append((negated, pattern, re.compile(_glob(pattern))))

    def excluded(self, path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for negated, _, regex in self.rules:
            if any(regex.fullmatch(c) for c in candidates):
                excluded = not negated
        return excluded

    def may_include_below(self, directory: str) -> bool:
        return any(
            negated and (pattern.startswith(directory + "/") or pattern.startswith("**"))
            for negated, pattern, _ in self.rules
        )


def dockerignore() -> DockerIgnore:
    return DockerIgnore((ROOT / ".dockerignore").read_text())


def build_context(dest: Path) -> list[str]:
    """Copy what `docker build .` would send (the checkout less .dockerignore) to `dest`."""
    ignore = dockerignore()
    sent = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        here = Path(dirpath).relative_to(ROOT).as_posix()
        prefix = "" if here == "." else here + "/"
        dirnames[:] = [
            d
            for d in dirnames
            if not ignore.excluded(prefix + d) or ignore.may_include_below(prefix + d)
        ]
        for name in filenames:
            rel = prefix + name
            if not ignore.excluded(rel):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, dest / rel)
                sent.append(rel)
    return sent


# -- static checks ------------------------------------------------------------------------------


def test_hadolint_reports_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_runtime_runs_as_a_numeric_non_root_user() -> None:
    stage = runtime_stage()
    users = stage.all("USER")
    assert users, "the runtime stage sets USER"
    uid, _, gid = users[-1].args.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric uid other than root"
    assert gid == "" or (gid.isdigit() and int(gid) != 0)
    last_user = stage.steps.index(users[-1])
    later = [s.keyword for s in stage.steps[last_user + 1 :]]
    assert "RUN" not in later and "COPY" not in later, "nothing runs or lands as root after USER"
    # The user exists in the image (a uid with no passwd entry breaks tools that look it up).
    created = " ".join(s.args for s in stage.all("RUN"))
    assert re.search(rf"useradd\b.*--uid {uid}\b", created)


def test_healthcheck_probes_healthz_on_the_configured_port() -> None:
    stage = runtime_stage()
    options, _ = split_flags(stage.one("HEALTHCHECK").args)
    argv = healthcheck_argv(stage)
    assert argv[0] == exec_form(stage.one("ENTRYPOINT").args)[0], "the venv's own python"
    assert "/healthz" in argv[-1] and "PORT" in argv[-1]
    assert {"interval", "timeout", "start-period", "retries"} <= options.keys()


def test_image_is_pinned_and_its_python_is_the_one_tested() -> None:
    found = stages()
    bases = {s.image for s in found}
    assert len(bases) == 1, "both stages on one base: the venv links to the base's python"
    image = bases.pop()
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-\w+", image)
    assert match, f"{image}: pin an exact slim Python version"
    # The lock's wheels and this suite's run of the build stage hold for this minor version.
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]
    assert exec_form(found[-1].one("ENTRYPOINT").args)[1:] == ["-m", "bot"]
    assert "3000" in found[-1].one("EXPOSE").args.split()


def test_no_secret_goes_into_the_image() -> None:
    for stage in stages():
        for step in stage.all("ARG"):
            assert not SECRET_NAME.search(step.args), f"ARG {step.args}: secrets are not ARGs"
        for step in stage.all("ENV"):
            for name, value in env_pairs(step.args).items():
                assert not SECRET_NAME.search(name), f"ENV {name}: settings come at run time"
                assert not SECRET_VALUE.search(value)
        for step in stage.all("COPY") + stage.all("ADD"):
            _, rest = split_flags(step.args)
            assert ".env" not in shlex.split(rest)
    ignore = dockerignore()
    for path in (".env", ".env.production", "deploy/.env", "secrets/slack.txt", "routes.yml"):
        assert ignore.excluded(path), f"{path} must stay out of the build context"
    for path in (".venv/bin/python", ".git/config", "tests/test_x.py", "bench/results/a.json"):
        assert ignore.excluded(path), path
    assert ignore.excluded("bot/__pycache__/app.cpython-311.pyc")


def test_build_context_holds_everything_the_build_copies(tmp_path: Path) -> None:
    sent = set(build_context(tmp_path))
    assert not {p for p in sent if p.startswith((".git/", ".venv/", "tests/"))}
    assert not {p for p in sent if p == ".env" or p.startswith(".env.")}
    for step in build_stage().all("COPY"):
        _, rest = split_flags(step.args)
        for source in shlex.split(rest)[:-1]:
            assert (tmp_path / source).exists(), f"COPY {source}: not in the build context"


def _name(project: str) -> str:
    """A project name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", project).lower()


def locked(lock: Path = LOCK) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", lock.read_text(), re.M)
    return {_name(name): version for name, version in pins}


def test_lock_pins_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = locked()
    for requirement in project["project"]["dependencies"]:
        name, equals, version = requirement.partition("==")
        assert equals, f"{requirement}: runtime dependencies are pinned exactly"
        assert pins.get(_name(name)) == version, f"{requirement}: run scripts/lock.sh"
    for requirement in project["build-system"]["requires"]:
        name, _, minimum = requirement.partition(">=")
        have = pins.get(_name(name))
        assert have, f"the build backend {name} is locked too (the image builds offline)"
        assert tuple(map(int, have.split(".")[:3])) >= tuple(map(int, minimum.split(".")))
    # An entry is a requirement line and the indented lines under it.
    entries = re.findall(r"^[A-Za-z0-9].*(?:\n[ \t]+.*)*", LOCK.read_text(), re.M)
    assert len(entries) == len(pins)
    assert all("--hash=sha256:" in entry for entry in entries), "every pin has its hashes"


def test_the_dev_lock_pins_the_tools_at_the_runtime_locks_versions() -> None:
    """`make install` installs requirements-dev.lock beside requirements.lock: every tool of
    the `dev` extra at its pin, with hashes, and nothing the bot runs on at another version."""
    dev_lock = ROOT / "requirements-dev.lock"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins, runtime = locked(dev_lock), locked()
    for requirement in project["project"]["optional-dependencies"]["dev"]:
        name, equals, version = requirement.partition("==")
        assert equals and pins.get(_name(name)) == version, f"{requirement}: run scripts/lock.sh"
    shared = pins.keys() & runtime.keys()
    assert {name: pins[name] for name in shared} == {name: runtime[name] for name in shared}
    entries = re.findall(r"^[A-Za-z0-9].*(?:\n[ \t]+.*)*", dev_lock.read_text(), re.M)
    assert len(entries) == len(pins)
    assert all("--hash=sha256:" in entry for entry in entries), "every pin has its hashes"


# -- the build stage, carried out --------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """The build stage's result on this machine, and the runtime stage's commands for it."""

    root: Path  # stands for the image's `/`
    entrypoint: list[str]
    healthcheck: list[str]
    env: dict[str, str]  # the runtime stage's ENV
    site_packages: Path


def rooted(text: str, owned: set[str], root: Path) -> str:
    """`text` with the Dockerfile's own absolute paths (/venv, the WORKDIR) moved under `root`."""
    names = "|".join(re.escape(n) for n in sorted(owned))
    return re.sub(rf"(?<![\w./-])/(?=(?:{names})(?:/|\s|$|['\"]))", f"{root}/", text)


def build_image(root: Path) -> Image:
    build, runtime = build_stage(), runtime_stage()
    entrypoint = exec_form(runtime.one("ENTRYPOINT").args)
    venv = posixpath.dirname(posixpath.dirname(entrypoint[0]))
    owned = {venv.strip("/").split("/")[0]}
    owned |= {s.args.strip("/").split("/")[0] for s in build.all("WORKDIR")}
    context = root.parent / "context"
    context.mkdir()
    build_context(context)
    # `python` in the image is the base image's interpreter: here, the one running the tests.
    shims = root.parent / "bin"
    shims.mkdir()
    (shims / "python").symlink_to(os.path.realpath(sys.executable))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
    workdir = "/"
    for step in build.steps:
        assert step.keyword in BUILD_STEPS, f"{step.keyword} in the build stage is not exercised"
        if step.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, step.args)
            (root / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif step.keyword == "ENV":
            env.update(env_pairs(step.args))
        elif step.keyword == "COPY":
            flags, rest = split_flags(step.args)
            assert not flags, f"COPY {step.args}: the build stage copies from the context only"
            *sources, dest = shlex.split(rest)
            target = root / posixpath.join(workdir, dest).lstrip("/")
            for source in sources:
                if (context / source).is_dir():
                    shutil.copytree(context / source, target, dirs_exist_ok=True)
                else:
                    into = target / source if dest.endswith("/") else target
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(context / source, into)
        else:
            flags, command = split_flags(step.args)
            # BuildKit cache mounts change where pip keeps downloads, not what it installs.
            assert set(flags) <= {"mount"} and "type=cache" in flags.get("mount", "type=cache")
            command = rooted(command, owned, root)
            stray = re.findall(r"(?<![\w./:=-])/[\w.]\S*", command.replace(str(root), "ROOT"))
            assert not stray, f"RUN touches {stray}, outside what this test maps"
            result = subprocess.run(
                ["/bin/sh", "-c", command], cwd=root / workdir.lstrip("/"), env=env,
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert result.returncode == 0, f"RUN {command}\n{result.stdout}\n{result.stderr}"
    (copied,) = runtime.all("COPY")
    flags, rest = split_flags(copied.args)
    assert flags == {"from": build.name} and shlex.split(rest) == [venv, venv], (
        "the runtime stage takes only the venv, at the same path (venvs are not relocatable)"
    )
    python = rooted(entrypoint[0], owned, root)
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, cwd=root,
    ).stdout.strip()  # fmt: skip
    return Image(
        root=root,
        entrypoint=[rooted(a, owned, root) for a in entrypoint],
        healthcheck=[rooted(a, owned, root) for a in healthcheck_argv(runtime)],
        env={k: v for s in runtime.all("ENV") for k, v in env_pairs(s.args).items()},
        site_packages=Path(purelib),
    )


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Image:
    """The image (a venv built by carrying out the Dockerfile, ~25 s of CPU), built once for the
    whole run: under pytest-xdist each worker is a session of its own, so the first to get here
    builds it in the run's shared temporary directory while the others wait on a lock."""
    if worker_id == "master":  # not under xdist: one session, one build
        return build_image(tmp_path_factory.mktemp("image") / "root")
    shared = tmp_path_factory.getbasetemp().parent  # the same for every worker of this run
    with (shared / "image.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recipe = shared / "image.json"
        if recipe.exists():
            kept = json.loads(recipe.read_text())
            return Image(**kept | {k: Path(kept[k]) for k in ("root", "site_packages")})
        (shared / "image").mkdir()
        built = build_image(shared / "image" / "root")
        recipe.write_text(json.dumps(dataclasses.asdict(built), default=str))
        return built


@pytest.mark.starts_first(40)
def test_the_wheel_holds_every_file_of_the_copied_packages(image: Image) -> None:
    installed = image.site_packages
    packages = []
    for step in build_stage().all("COPY"):
        _, rest = split_flags(step.args)
        packages += [s for s in shlex.split(rest)[:-1] if (ROOT / s / "__init__.py").is_file()]
    assert {"bot", "handlers", "blocks"} <= set(packages)
    ignore = dockerignore()
    for package in packages:
        for path in (ROOT / package).rglob("*"):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and not ignore.excluded(rel):
                assert (installed / rel).is_file(), f"{rel} is not in the installed wheel"
    # A regular install, not a link back to a checkout.
    assert not list(installed.glob("__editable__*")) and not list(installed.glob("*.egg-link"))


def test_installed_bot_imports_from_the_venv_not_the_checkout(image: Image, tmp_path: Path) -> None:
    code = (
        "import importlib, json, sys; "
        "print(json.dumps([importlib.import_module(m).__file__ for m in sys.argv[1:]]))"
    )
    result = subprocess.run(
        [image.entrypoint[0], "-c", code, "bot", "handlers", "blocks"],
        cwd=tmp_path,
        env={**image.env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    for path in json.loads(result.stdout):
        assert Path(path).is_relative_to(image.site_packages), path


class InstalledBot:
    """Enough of tests.kit.slack.BotProcess for `Slack` to drive the bot the image would run."""

    def __init__(self, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self._log = log

    def log(self) -> str:
        return self._log.read_text(errors="replace")


@pytest.fixture
def bot_env(
    simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess, image: Image
) -> dict[str, str]:
    """The container's environment: the image's ENV and settings as .env would give them."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "CLOUDFLARE_", "BOT_", "ALERT_", "LOG_", "PYTHON"))
        and k not in {"REDIS_URL", "HOST", "PORT", "VIRTUAL_ENV"}
    }
    return {
        **keep,
        **image.env,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "CLOUDFLARE_ACCOUNT_ID": "023e105f4ecef8ad9ca31a8372d0c353",
        "CLOUDFLARE_API_TOKEN": "sim-test-token",
        "CLOUDFLARE_API_URL": simulator.base_url,
        "REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/2",
        "PORT": str(free_port()),
        "BOT_OPERATORS": OPERATOR,
    }


@pytest.fixture
def running(
    image: Image, bot_env: dict[str, str], tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """ENTRYPOINT, started from an empty directory (nothing to import from but the venv)."""
    workdir = tmp_path / "empty"
    workdir.mkdir()
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            image.entrypoint, cwd=workdir, env=bot_env, stdout=out, stderr=subprocess.STDOUT
        )
    healthz = f"http://127.0.0.1:{bot_env['PORT']}/healthz"

    def up() -> bool:
        assert process.poll() is None, f"the bot exited:\n{log.read_text()}"
        try:
            return LOCAL.get(healthz, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 30, "the installed bot's /healthz")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def probe(image: Image, env: dict[str, str]) -> int:
    return subprocess.run(image.healthcheck, env=env, capture_output=True, timeout=30).returncode


def test_entrypoint_serves_slack_and_passes_its_healthcheck(
    image: Image,
    bot_env: dict[str, str],
    running: subprocess.Popen[bytes],
    simulator: SimulatorProcess,
    standin: StandinProcess,
    tmp_path: Path,
) -> None:
    assert probe(image, bot_env) == 0
    standin.hook("POST", "reset")
    message = {
        "postfix_id": "Container0001x",
        "scanned_at": (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": "Installed from the lock",
        "from": "sender@vendor.example",
        "to": ["alice@example.com"],
        "final_disposition": "SPAM",
        "is_quarantined": True,
    }
    (message_id,) = simulator.add_messages([message])
    slack = Slack(InstalledBot(int(bot_env["PORT"]), tmp_path / "bot.log"), standin)
    assert slack.command(f"lookup {message_id}").status_code == 200
    assert "Installed from the lock" in text_of(slack.card())


def test_sigterm_stops_the_bot_cleanly_and_the_healthcheck_then_fails(
    image: Image, bot_env: dict[str, str], running: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    assert probe(image, bot_env) == 0
    running.send_signal(signal.SIGTERM)  # what `docker stop` sends (STOPSIGNAL)
    assert running.wait(timeout=20) == 0, (tmp_path / "bot.log").read_text()
    assert probe(image, bot_env) != 0, "the probe must fail when nothing answers"


# -- docker-compose.yml -------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def secret_settings() -> set[str]:
    return {
        name.upper()
        for name, info in Settings.model_fields.items()
        if SecretStr in getattr(info.annotation, "__args__", (info.annotation,))
    }


def test_compose_runs_the_bot_on_a_persistent_redis() -> None:
    services = compose()["services"]
    bot, redis = services["bot"], services["redis"]
    assert bot["build"] in (".", {"context": "."})
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert bot["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert bot["restart"] == "unless-stopped"
    assert any(str(p).endswith(":3000") for p in bot["ports"])
    assert not bot.get("healthcheck", {}).get("disable"), "the image's HEALTHCHECK applies"
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+(-\w+)?", redis["image"]), "a pinned Redis"
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes", "persistence on"
    (volume,) = redis["volumes"]
    name, _, mount = volume.partition(":")
    assert mount == "/data" and name in compose()["volumes"], "a named volume holds /data"
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "ports" not in redis, "Redis is reached only over the project's network"


def test_compose_simulator_is_opt_in_and_started_with_valid_flags() -> None:
    simulator = compose()["services"]["simulator"]
    assert simulator["profiles"] == ["simulator"], "started only when asked for"
    command, entrypoint = simulator["command"], exec_form(runtime_stage().one("ENTRYPOINT").args)
    assert "entrypoint" not in simulator and command[0] == "simulator"
    args = simulator_parser().parse_args(command[1:])  # exits (fails the test) on a bad flag
    assert args.host == "0.0.0.0", "reachable from the bot's container"
    probe = simulator["healthcheck"]["test"]
    assert probe[1] == entrypoint[0] and f":{args.port}/__simulator/health" in probe[-1]


def test_compose_takes_secrets_from_the_env_file_only() -> None:
    bot = compose()["services"]["bot"]
    env_files = bot["env_file"] if isinstance(bot["env_file"], list) else [bot["env_file"]]
    assert ".env" in env_files
    secrets = secret_settings()
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CLOUDFLARE_API_TOKEN"} <= secrets
    for service in compose()["services"].values():
        inline = service.get("environment") or {}
        assert not secrets & {k.upper() for k in inline}, "secrets belong in .env"
        assert not any(SECRET_VALUE.search(str(v)) for v in inline.values())
    assert ".env" in (ROOT / ".gitignore").read_text().split()
