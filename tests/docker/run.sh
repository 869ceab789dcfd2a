#!/usr/bin/env bash
# The Docker stage: a real engine (../shared/tools/docker-here), the image built from this tree,
# then the guide's story (tests/docker). The engine is stopped afterwards, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
DOCKER_HERE=${DOCKER_HERE:-../shared/tools/docker-here}

stop_engine() { "$DOCKER_HERE" --stop || true; }
trap stop_engine EXIT

"$DOCKER_HERE"
started=$(date +%s)
DOCKER_BUILDKIT=0 docker build -q -t claude-workers:local . >/dev/null
echo "image built in $(( $(date +%s) - started )) s: $(docker image inspect -f '{{.Size}}' claude-workers:local | awk '{printf "%.0f MB", $1/1e6}')"
CLAUDE_WORKERS_DOCKER_TESTS=1 .venv/bin/pytest -p no:cacheprovider tests/docker "$@"
