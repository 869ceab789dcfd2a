"""The run options as command-line flags, made from ``RunOptions``: one field, one flag.

``claude-workers run`` and ``submit`` share them; ``--help`` shows each field's description.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from app.claude.options import RunOptions

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)


def _json_object(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    except OSError as exc:
        raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object")
    return parsed


def _flag(name: str, info: FieldInfo) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("cli_flag") or "--" + name.replace("_", "-"))


def _option(name: str, info: FieldInfo) -> Callable[[F], F]:
    """A click option for one field, typed from its annotation."""
    kind = info.annotation
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = args[0]
    help_text = info.description or ""
    flag = _flag(name, info)
    if typing.get_origin(kind) is typing.Literal:
        choices = [str(c) for c in typing.get_args(kind)]
        return click.option(flag, name, type=click.Choice(choices), default=None, help=help_text)
    if typing.get_origin(kind) is list:
        return click.option(flag, name, multiple=True, help=help_text + " Repeat or comma-separate.")
    if typing.get_origin(kind) is dict:
        return click.option(flag, name, callback=_json_object, help=help_text)
    if kind is bool and info.default is True:  # on unless turned off: the flag turns it off
        off = "--no-" + name.replace("_", "-")
        return click.option(off, name, is_flag=True, flag_value=False, default=None, help=help_text)
    if kind is bool:
        return click.option(flag, name, is_flag=True, default=None, help=help_text)
    if kind is int:
        return click.option(flag, name, type=int, help=help_text)
    if kind is float:
        return click.option(flag, name, type=float, help=help_text)
    return click.option(flag, name, help=help_text)


def options_of(model: type[BaseModel], *, skip: tuple[str, ...] = ("prompt",)) -> Callable[[F], F]:
    """Every field of ``model`` (but ``skip``) as a click option."""

    def decorate(func: F) -> F:
        for name, info in reversed(list(model.model_fields.items())):
            if name not in skip:
                func = _option(name, info)(func)
        return func

    return decorate


#: the run options, for `run` and `submit`
job_options = options_of(RunOptions)


def read_prompt(prompt: str) -> str:
    """The prompt argument, or standard input when it is ``-``."""
    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        raise click.BadParameter("the prompt is empty", param_hint="PROMPT")
    return text


def build(model: type[M], prompt: str, options: dict[str, Any], **extra: Any) -> M:
    """``model`` from the command line's values: lists split on commas, unset flags left out."""
    fields: dict[str, Any] = {"prompt": prompt}
    for name, value in options.items():
        if name not in model.model_fields or value is None or value == ():
            continue
        if isinstance(value, tuple):
            value = [t.strip() for v in value for t in str(v).split(",") if t.strip()]
        fields[name] = value
    try:
        return model.model_validate({**fields, **extra})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "prompt"
        info = model.model_fields.get(name)
        hint = "PROMPT" if name == "prompt" else _flag(name, info) if info is not None else name
        raise click.BadParameter(err["msg"], param_hint=hint) from None
