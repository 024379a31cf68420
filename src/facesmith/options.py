"""Options shared by the stages and their commands (kept free of heavy imports, so that `--help` is fast):
the argument types, and options dataclasses whose fields are also the command-line options."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def parse_time(value: str) -> float:
    """Seconds, or [[H:]M:]S like 1:05.5 (the --start / --end of extract and convert)."""
    try:
        seconds = 0.0
        for part in value.split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {value!r} (use seconds or M:S)") from None
    return seconds


# --- options dataclasses that are also command-line options -----------------------------------------
# A stage's options are one frozen dataclass; each field that is a command-line option carries its flag
# and help in `option(...)`, so its default is written once: the dataclass default, which the public
# function, the command (`add_options`) and `--help` (%(default)s) all read.

_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def option(default: Any, help: str, *, flag: str | None = None, metavar: str | None = None,
           type: Callable[[str], Any] | None = None, choices: Sequence[Any] | None = None,
           nargs: str | None = None, required: bool = False) -> Any:
    """A dataclass field that `add_options` turns into `flag` (default: --field-name). A bool field
    is a switch: `--x` when it defaults to False, `flag` (e.g. --no-smooth) when it defaults to True."""
    cli = {"help": help, "flag": flag, "metavar": metavar, "type": type, "choices": choices, "nargs": nargs,
           "required": required}
    return dataclasses.field(default=default, metadata={"cli": cli})


def same_as(cls: type, name: str, **changes: Any) -> Any:
    """A field that is option `name` of dataclass `cls` again: the same default, flag, type and choices,
    so that an option two commands share means the same in both and its default is written once.
    `changes` (help, required) word it for its command. The annotation is written again by the caller."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return dataclasses.field(default=f.default, metadata={"cli": {**f.metadata["cli"], **changes}})


def add_options(parser: Any, cls: type, names: Iterable[str] | None = None) -> None:
    """Add the command-line options of dataclass `cls` (those in `names`, default all) to an argparse
    parser or argument group; each option's dest is its field's name."""
    wanted = set(names) if names is not None else None
    for f in dataclasses.fields(cls):
        cli = f.metadata.get("cli")
        if cli is None or (wanted is not None and f.name not in wanted):
            continue
        flag = cli["flag"] or "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f.name, "help": cli["help"]}
        if f.type == "bool":
            kwargs["action"] = "store_false" if f.default else "store_true"
        else:
            kind = str(f.type).replace(" | None", "").replace("tuple[", "").replace(", ...]", "")
            kwargs.update(default=list(f.default) if cli["nargs"] else f.default,
                          type=cli["type"] or _TYPES[kind])
            kwargs.update({k: cli[k] for k in ("metavar", "choices", "nargs") if cli[k] is not None})
            if cli["required"]:
                kwargs["required"] = True
        parser.add_argument(flag, **kwargs)


def options_of(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The command-line options of dataclass `cls` parsed into `args`, as keyword arguments."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if "cli" in f.metadata and hasattr(args, f.name)}
