#!/bin/sh
# Writes requirements.lock: the exact version of every package the bot runs on (the
# dependencies in pyproject.toml and theirs) and of its build backend, each with the hashes of
# all its files on PyPI, so that the image installs exactly these bytes on any platform; and
# requirements-dev.lock: the same for the development tools (the `dev` extra), held to the
# runtime lock's versions, which `make install` installs beside it.
#
# Run it after changing [project.dependencies] or [build-system] in pyproject.toml, and review
# the diff like code. Versions already in the lock are kept when they still fit; pass
# --upgrade (or --upgrade-package NAME) to move them. Needs python3 and PyPI.
set -eu
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8  # the resolver; only this script uses it

tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"

# The build backend is locked too: the image builds the bot's wheel without fetching anything.
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
  | "$tools/venv/bin/uv" pip compile pyproject.toml - \
      --universal --python-version 3.11 --generate-hashes \
      --custom-compile-command "scripts/lock.sh" \
      --output-file requirements.lock --quiet "$@"

# The development tools, at the runtime lock's versions of what they share with the bot.
"$tools/venv/bin/uv" pip compile pyproject.toml --extra dev \
    --constraint requirements.lock \
    --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "scripts/lock.sh" \
    --output-file requirements-dev.lock --quiet "$@"
