# claude-workers: one image for the worker, the health gateway and the API.
#   docker compose up -d                      (see docker-compose.yml)
#   docker compose exec worker python -m app.claude_auth_manager setup
#
# It runs as the unprivileged user `claude` (uid 10001) whose home is /root, so the guide's
# paths hold: the shared login is /root/.config/claude (the claude_config volume), and
# `docker compose exec worker claude` finds it. The worker is PID 1 and acts as the init: it
# passes signals on and reaps what the Claude CLI leaves behind (app/proc.py), and it is
# undumpable, which a general-purpose init such as tini would not be (see docs/reliability.md).

# --- the pinned Claude Code CLI: only its native binary is kept (Node is not needed to run it) ---
FROM node:22-bookworm-slim AS claude-cli
WORKDIR /opt/claude
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && cp node_modules/@anthropic-ai/claude-code/bin/claude.exe /opt/claude/claude \
 && rm -rf node_modules \
 && /opt/claude/claude --version

# --- the service ---------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/root \
    CLAUDE_CONFIG_DIR=/root/.config/claude \
    CLAUDE_WORKSPACE_ROOT=/workspaces \
    CLAUDE_WORKERS_DATA_DIR=/var/lib/claude-workers \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080 \
    CLAUDE_WORKERS_IMAGE=1

# bubblewrap: the sandbox of each CLI run (git is left out: nothing here needs it; add it in a
# derived image for agent jobs that do)
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --home-dir /root --no-create-home --shell /bin/bash claude \
 && mkdir -p /root/.config/claude /workspaces /var/lib/claude-workers \
 && chown -R claude:claude /root /workspaces /var/lib/claude-workers \
 && chmod 700 /root /root/.config/claude

WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY --from=claude-cli /opt/claude/claude /usr/local/bin/claude
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-deps . && rm -rf /app/build
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh

USER claude
VOLUME ["/root/.config/claude", "/workspaces"]
EXPOSE 8080 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "app.probe", "http://127.0.0.1:8080/live"]

ENTRYPOINT ["entrypoint.sh"]
CMD ["worker"]
