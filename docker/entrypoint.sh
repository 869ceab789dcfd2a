#!/bin/sh
# The container's entrypoint; also runs as it is outside Docker (the tests do).
#   entrypoint.sh            -> claude-workers worker
#   entrypoint.sh api ...    -> claude-workers api ...
#   entrypoint.sh bash       -> bash (anything that is not a claude-workers command)
set -eu

config_dir="${CLAUDE_CONFIG_DIR:-$HOME/.config/claude}"
mkdir -p "$config_dir"
chmod 700 "$config_dir" 2>/dev/null || true   # the shared login lives here

# a volume made by an older, root-run image is not ours: say how to hand it over
for dir in "$config_dir" "${CLAUDE_WORKSPACE_ROOT:-}"; do
  if [ -n "$dir" ] && [ -d "$dir" ] && ! [ -w "$dir" ]; then
    echo "error: $dir is not writable by $(id -un) (uid $(id -u)); it was probably created by an older image that ran as root." >&2
    echo "Hand it over once with:" >&2
    echo "  docker compose run --rm --user root --entrypoint chown worker -R $(id -u):$(id -g) $dir" >&2
    exit 78
  fi
done

if [ "$#" -eq 0 ]; then
  set -- worker
fi

case "$1" in
  worker|api|up|run|submit|jobs|batch|status|auth|health-gateway)
    exec claude-workers "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
