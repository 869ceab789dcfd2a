# claude-workers: one image for the worker and the API.
#   docker compose up -d                      (see docker-compose.yml)
#   docker compose exec worker python -m app.claude_auth_manager setup

# --- the pinned Claude Code CLI (a native binary; Node is only needed to install it) ---------
FROM node:22-bookworm-slim AS claude-cli
WORKDIR /opt/claude
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
 && node_modules/.bin/claude --version

# --- the service ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLAUDE_CONFIG_DIR=/root/.config/claude \
    CLAUDE_WORKSPACE_ROOT=/workspaces \
    CLAUDE_WORKERS_DATA_DIR=/var/lib/claude-workers \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl git \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY --from=claude-cli /opt/claude/node_modules /opt/claude/node_modules
RUN ln -s /opt/claude/node_modules/.bin/claude /usr/local/bin/claude && claude --version

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir --no-deps . \
 && mkdir -p /root/.config/claude /workspaces && chmod 700 /root/.config/claude
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh

VOLUME ["/root/.config/claude"]
EXPOSE 8080 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://localhost:8080/health >/dev/null || exit 1

ENTRYPOINT ["entrypoint.sh"]
CMD ["worker"]
