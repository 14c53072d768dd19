# Minimal image; issue #7 hardens it (health check, lock file, hadolint).
FROM python:3.11.7-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY blocks ./blocks
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11.7-slim-bookworm
RUN useradd --system --uid 10001 --no-create-home bot
COPY --from=build /venv /venv
USER bot
EXPOSE 3000
ENTRYPOINT ["/venv/bin/python", "-m", "bot"]
