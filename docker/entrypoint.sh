#!/bin/sh
# The container's entrypoint; also runs as it is outside Docker (the tests do).
#   entrypoint.sh            -> claude-workers worker
#   entrypoint.sh api ...    -> claude-workers api ...
#   entrypoint.sh bash       -> bash (anything that is not a claude-workers command)
set -eu

config_dir="${CLAUDE_CONFIG_DIR:-$HOME/.config/claude}"
mkdir -p "$config_dir"
chmod 700 "$config_dir" 2>/dev/null || true   # the shared login lives here

if [ "$#" -eq 0 ]; then
  set -- worker
fi

case "$1" in
  worker|api|up|run|submit|jobs|batch|status|auth)
    exec claude-workers "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
