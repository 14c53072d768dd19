# The bot's image: `docker build -t email-security-bot .`, or `docker compose up -d` with the
# docker-compose.yml beside this file. Settings come from the environment at run time (never
# from build arguments or layers); docs/install.md "Running the bot". Needs BuildKit (Docker
# 23 or later, or `docker buildx build`) for the pip cache mount.
#
# tests/test_container.py runs this build stage's instructions outside Docker (the same pip
# commands on the same lock, into a fresh venv), starts the bot with ENTRYPOINT and probes it
# with HEALTHCHECK, so keep the build stage to WORKDIR, ENV, COPY and RUN.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, so this layer is rebuilt only when the lock changes. The lock pins every
# package with its hashes (scripts/lock.sh writes it); --no-deps means nothing outside it.
COPY requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv /venv \
    && /venv/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY blocks ./blocks
# The bot as a regular (not editable) install, built by the locked setuptools without going
# to the network; `pip check` fails the build when the lock misses or contradicts a dependency
# of pyproject.toml.
RUN /venv/bin/pip install --no-deps --no-build-isolation --no-index . \
    && /venv/bin/pip check

# Same base as the build stage: the venv's interpreter is a link to this image's python.
FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.title="email-security-slack-bot" \
      org.opencontainers.image.description="Slack chat-ops for Cloudflare Email Security" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A fixed numeric id, so volume permissions and Kubernetes' runAsNonRoot can rely on it.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin bot
COPY --from=build /venv /venv
USER 10001:10001
# /slack/events (HTTP mode), /healthz and the other probes; PORT changes it.
EXPOSE 3000
# Liveness, not readiness: a bot waiting for Redis or Slack is alive and must not be restarted
# for it. Slim images have no curl; the venv's python asks instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/venv/bin/python", "-m", "bot"]
