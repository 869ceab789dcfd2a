"""The auth manager's commands: ``python -m app.claude_auth_manager setup|status|test|config``.

Also mounted as ``claude-workers auth``. ``status`` and ``config`` are passive (no Claude call);
``test`` makes one tiny real request; ``setup`` stores the fleet's credential (0600, in the
shared config dir), tells the fleet, and verifies it with the same tiny request.

Exit codes of ``status`` and ``test``: 0 ready, 1 error, 10 auth_required, 11 quota_exceeded,
12 rate_limited, 13 overloaded, 14 billing_required.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app import place
from app.cli.errors import run_group
from app.cli.render import money
from app.errors import SETUP_COMMAND, ConfigError
from app.fleet.state import SEED_LABELS
from app.logs import configure_logging
from app.proc import make_undumpable

# the credential code, Redis and the runner are imported by the command that needs them, so
# `python -m app.claude_auth_manager --help` starts at once
if TYPE_CHECKING:
    from app.claude.credentials import CredentialKind
    from app.claude.request import Engine
    from app.settings import Settings

MENU = """How should the fleet reach Claude?

  1) Subscription token from `claude setup-token`   (recommended for a fleet: long-lived, no refresh races)
  2) `claude auth login` {here:27}(refresh tokens rotate; fine for one worker)
  3) Anthropic API key                              (pay per use; teams and production)
"""


@click.group("auth", context_settings={"help_option_names": ["-h", "--help"]})
def auth() -> None:
    """Set up, check and test the Claude login that every worker shares."""


# --- setup -------------------------------------------------------------------------------
def _read_stdin_secret(what: str) -> str:
    secret = sys.stdin.read().strip()
    if not secret:
        raise click.UsageError(
            f"No {what} on standard input. Pipe it in, e.g.: printenv KEY | ... setup --{what}-stdin"
        )
    if any(c.isspace() for c in secret):
        raise click.UsageError(f"The {what} on standard input contains whitespace; pass only the secret itself.")
    return secret


def _interactive(settings: Settings) -> tuple[CredentialKind | None, str | None]:
    from app.claude.credentials import (
        CLAUDE_LOGIN_FILE,
        CREDENTIAL_ENV_VARS,
        CredentialKind,
        remove_stored_credential,
    )

    click.echo(MENU.format(here="in this container" if place.runs_in() != "host" else "on this machine"))
    choice = click.prompt("Choose", type=click.Choice(["1", "2", "3"]), default="1")
    claude = settings.resolve_claude_bin()
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(settings.config_dir)}
    for name in CREDENTIAL_ENV_VARS:
        env.pop(name, None)
    if choice == "1":
        click.echo("Running `claude setup-token`: follow its steps, then copy the token it prints.\n")
        subprocess.run([claude, "setup-token"], env=env, check=False)
        token = click.prompt("Paste the token (input hidden)", hide_input=True).strip()
        return CredentialKind.OAUTH_TOKEN, token
    if choice == "2":
        click.echo("Running `claude auth login` with the shared config dir.\n")
        subprocess.run([claude, "auth", "login"], env=env, check=False)
        if not (settings.config_dir / CLAUDE_LOGIN_FILE).exists():
            raise ConfigError(
                "The login did not complete: no credentials were written.", hint=f"Run {SETUP_COMMAND} again."
            )
        if remove_stored_credential(settings.config_dir):
            click.echo("The earlier stored credential was removed so this login takes effect.")
        return None, None
    key = click.prompt("Paste the API key (input hidden)", hide_input=True).strip()
    return CredentialKind.API_KEY, key


@auth.command("setup")
@click.option("--api-key-stdin", is_flag=True, help="Read an Anthropic API key from standard input.")
@click.option("--oauth-token-stdin", is_flag=True, help="Read a `claude setup-token` token from standard input.")
@click.option(
    "--login-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use a .credentials.json that `claude auth login` wrote elsewhere (the fleet refreshes it).",
)
@click.option("--no-verify", is_flag=True, help="Store without the tiny test request.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def setup(
    api_key_stdin: bool, oauth_token_stdin: bool, login_file: Path | None, no_verify: bool, as_json: bool
) -> None:
    """Store the fleet's Claude credential (0600, shared by every worker), tell the fleet, verify it.

    \b
    For scripts:
      printenv ANTHROPIC_API_KEY | python -m app.claude_auth_manager setup --api-key-stdin
      printenv CLAUDE_CODE_OAUTH_TOKEN | python -m app.claude_auth_manager setup --oauth-token-stdin
      python -m app.claude_auth_manager setup --login-file ~/.claude/.credentials.json
    """
    from app.claude.credentials import CredentialKind
    from app.fleet.login import adopt_login_file, setup_credential
    from app.settings import get_settings

    settings = get_settings()
    if sum((api_key_stdin, oauth_token_stdin, login_file is not None)) > 1:
        raise click.UsageError("Choose one of --api-key-stdin, --oauth-token-stdin and --login-file.")
    kind: CredentialKind | None = None
    secret: str | None = None
    if login_file is not None:
        adopt_login_file(settings, login_file)  # a claude.ai login: no kind and secret to store
    elif api_key_stdin or oauth_token_stdin:
        kind = CredentialKind.API_KEY if api_key_stdin else CredentialKind.OAUTH_TOKEN
        secret = _read_stdin_secret("api-key" if api_key_stdin else "oauth-token")
    elif sys.stdin.isatty():
        kind, secret = _interactive(settings)
    else:
        raise click.UsageError(
            "setup needs a terminal for its menu. From a script, pipe the secret in:\n"
            "  ... | python -m app.claude_auth_manager setup --api-key-stdin\n"
            "  ... | python -m app.claude_auth_manager setup --oauth-token-stdin"
        )
    result, code = setup_credential(settings, kind, secret, verify=not no_verify)
    _report_setup(result, as_json)
    sys.exit(code)


def _report_setup(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    stored = result["stored"]
    click.echo(
        f"Stored {stored['kind']} at {stored['path']}"
        + (f" ({stored['fingerprint']})" if "fingerprint" in stored else "")
    )
    if not result["fleet_informed"]:
        click.echo("Redis is not reachable, so running workers were not told; they pick it up when they next look.")
    if result.get("shared"):
        click.echo(f"Shared with every host through Redis, encrypted (version {result['shared']['version']}).")
    test = result.get("test")
    if test is None:
        click.echo("Not verified (--no-verify). Check with: python -m app.claude_auth_manager test")
    elif test["state"] == "ready":
        click.echo(f"Verified: Claude answered in {test['latency_ms']} ms. The fleet resumes now.")
    else:
        error = test["error"] or {}
        click.echo(f"Verification failed: {test['state']}: {error.get('message')}", err=True)
        if error.get("hint"):
            click.echo(error["hint"], err=True)
        if "restored_previous" in result:
            what = "the previous credential was put back" if result["restored_previous"] else "it was not kept"
            click.echo(f"Claude rejected this credential, so {what}.", err=True)


# --- status, test, config --------------------------------------------------------------------
@auth.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the full status object.")
def status(as_json: bool) -> None:
    """Passive status: which credential, from where, its expiry, and the fleet state. No Claude call.

    Exit code per state: 0 ready, 10 auth_required, 11 quota_exceeded, 12 rate_limited,
    13 overloaded, 14 billing_required.
    """
    from app.auth_status import auth_status
    from app.fleet.login import redis_or_none
    from app.settings import get_settings

    settings = get_settings()
    data = auth_status(settings, redis_or_none(settings))
    if as_json:
        click.echo(json.dumps(data, default=str))
    else:
        cred = data["credential"]
        click.echo(f"state:          {data['state']}" + (" (authenticated)" if data["authenticated"] else ""))
        click.echo(
            f"credential:     {cred['method']} from {cred['source']} ({cred['fingerprint'] or 'file'})"
            if cred
            else "credential:     none"
        )
        click.echo(f"config dir:     {data['config_dir']}")
        if data["login_expires_at"]:
            when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(data["login_expires_at"]))
            click.echo(
                f"login expires:  {when}" + (" (expired; the CLI refreshes it)" if data["login_expired"] else "")
            )
        fleet = data["fleet"]
        if fleet:
            click.echo(
                f"fleet:          {SEED_LABELS.get(data['state'], fleet['label'])}"
                + (f", next probe in {fleet['next_probe_in']:.0f}s" if fleet["next_probe_in"] is not None else "")
            )
        click.echo(f"redis:          {data['redis']}")
        shared = data["shared"]
        if shared["through_redis"]:
            record = shared["record"]
            click.echo(
                "shared:         through Redis, encrypted"
                + (f", version {record['version']} from {record['by']}" if record else ", nothing stored yet")
            )
        else:
            click.echo("shared:         no (this config dir only; CLAUDE_WORKERS_SECRET_KEY shares it across hosts)")
        for line in data["ignored"]:
            click.echo(f"ignored:        {line}")
        for line in data["problems"]:
            click.echo(f"problem:        {line}")
        click.echo(f"next step:      {data['action']}")
    sys.exit(data["exit_code"])


@auth.command("test")
@click.option("--engine", type=click.Choice(["cli", "api"]), default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def test(engine: Engine, as_json: bool) -> None:
    """One tiny real request through the runner: outcome and latency. Success opens the fleet gate."""
    from app.fleet.login import run_test
    from app.settings import get_settings

    payload, code = run_test(get_settings(), engine)
    if as_json:
        click.echo(json.dumps(payload))
    elif payload["state"] == "ready":
        click.echo(
            f"ready: Claude answered {payload['result']['text']!r} in {payload['latency_ms']} ms"
            + (f" ({money(payload['cost_usd'])})" if payload.get("cost_usd") else "")
        )
    else:
        error = payload["error"] or {}
        click.echo(f"{payload['state']}: {error.get('message')} ({payload['latency_ms']} ms)", err=True)
        if error.get("hint"):
            click.echo(error["hint"], err=True)
    sys.exit(code)


@auth.command("logout")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def logout_command(as_json: bool) -> None:
    """Remove the fleet's stored credential here and, with CLAUDE_WORKERS_SECRET_KEY, on every host."""
    from app.fleet.login import logout
    from app.settings import get_settings

    result = logout(get_settings())
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo("Removed the stored credential." if result["removed"] else "No stored credential here.")
    if result["shared"]:
        click.echo(f"Every host drops it too (shared version {result['shared']['version']}).")
    click.echo(f"Jobs now wait for a login: {SETUP_COMMAND}")


@auth.command("new-key")
def new_key_command() -> None:
    """Print a new CLAUDE_WORKERS_SECRET_KEY (a Fernet key) for sharing the login across hosts."""
    from app.fleet.shared_login import new_key

    click.echo(new_key())
    click.echo(
        "Give every host this value as CLAUDE_WORKERS_SECRET_KEY (an env var or a mounted Secret), then run setup.",
        err=True,
    )


@auth.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def config(as_json: bool) -> None:
    """The files in the config dir (contents never shown), the env vars that matter, the paths."""
    from app.fleet.login import config_view
    from app.settings import get_settings

    data = config_view(get_settings())
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo("paths:")
    for key, value in data["paths"].items():
        click.echo(f"  {key:15} {value}")
    click.echo(f"files in {data['paths']['config_dir']}:")
    for f in data["files"] or [{"name": "(none)", "mode": "", "size": "", "secret": False}]:
        click.echo(f"  {f['mode']:6} {f['size']!s:>8}  {f['name']}" + ("  (secret, not shown)" if f["secret"] else ""))
    click.echo("environment:")
    for key, value in data["env"].items():
        click.echo(f"  {key:34} {value}")
    for line in data["problems"]:
        click.echo(f"problem: {line}")


def main(argv: list[str] | None = None) -> None:
    make_undumpable()  # it handles the secret being stored
    configure_logging(False)
    run_group(auth, argv)
