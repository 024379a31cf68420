"""Checking structures read from files (JSON in face files, alignments stores, checkpoints, imports).

Everything facesmith reads back may have been written by someone else. Each reader describes what it
expects with the small specs below and checks the parsed value once, at the boundary, so that code
further in can index it without guarding every access; a value that does not fit is one InputError
saying where in the file and what is wrong. JSON is parsed with a nesting limit (Python's parser
recurses: a few thousand brackets raise RecursionError).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .errors import InputError

MAX_DEPTH = 64


class SchemaError(InputError):
    """A structure read from a file does not have the expected shape."""


class _Bad(Exception):
    def __init__(self, where: str, what: str):
        super().__init__(f"{where or 'top level'}: {what}")


Spec = Callable[[Any, str], None]


def _name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def integer(lo: int | None = None, hi: int | None = None) -> Spec:
    def check(v: Any, at: str) -> None:
        if not isinstance(v, int) or isinstance(v, bool):
            raise _Bad(at, f"expected an integer, got {_name(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _Bad(at, f"{v} is outside {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}")
    return check


def number(lo: float | None = None, hi: float | None = None) -> Spec:
    def check(v: Any, at: str) -> None:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise _Bad(at, f"expected a finite number, got {_name(v) if not isinstance(v, float) else v}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _Bad(at, f"{v} is outside {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}")
    return check


def string(max_len: int = 4096, choices: tuple[str, ...] | None = None) -> Spec:
    def check(v: Any, at: str) -> None:
        if not isinstance(v, str):
            raise _Bad(at, f"expected a string, got {_name(v)}")
        if len(v) > max_len:
            raise _Bad(at, f"string of {len(v)} characters (at most {max_len})")
        if choices is not None and v not in choices:
            raise _Bad(at, f"{v[:40]!r} is not one of {', '.join(choices)}")
    return check


def boolean() -> Spec:
    def check(v: Any, at: str) -> None:
        if not isinstance(v, bool):
            raise _Bad(at, f"expected true/false, got {_name(v)}")
    return check


def nullable(spec: Spec) -> Spec:
    def check(v: Any, at: str) -> None:
        if v is not None:
            spec(v, at)
    return check


def one_of(*specs: Spec) -> Spec:
    def check(v: Any, at: str) -> None:
        errors = []
        for spec in specs:
            try:
                spec(v, at)
                return
            except _Bad as e:
                errors.append(str(e))
        raise _Bad(at, "; or ".join(e.split(": ", 1)[-1] for e in errors))
    return check


def list_of(item: Spec, min_len: int = 0, max_len: int = 1 << 20) -> Spec:
    def check(v: Any, at: str) -> None:
        if not isinstance(v, (list, tuple)):
            raise _Bad(at, f"expected a list, got {_name(v)}")
        if not min_len <= len(v) <= max_len:
            raise _Bad(at, f"list of {len(v)} items (expected {min_len}..{max_len})")
        for i, x in enumerate(v):
            item(x, f"{at}[{i}]")
    return check


def points(n_min: int, n_max: int, dims: int = 2, lo: float = -1e7, hi: float = 1e7) -> Spec:
    """A list of [x, y] pairs of finite numbers in lo..hi (landmarks, polygons). Checked with numpy
    (convert checks every stored face it reads: ~10 us a face instead of ~100 us item by item)."""
    slow = list_of(list_of(number(lo, hi), dims, dims), n_min, n_max)

    def check(v: Any, at: str) -> None:
        if type(v) is list and n_min <= len(v) <= n_max:
            try:
                a = np.asarray(v)
            except (TypeError, ValueError, OverflowError):
                a = None
            # numbers only (a string, null or ragged row gives another dtype or shape), finite, in range
            if a is not None and a.dtype.kind in "iuf" and a.ndim == 2 and a.shape[1] == dims and (
                    a.size == 0 or (bool(np.isfinite(a).all()) and a.min() >= lo and a.max() <= hi)):
                return
        slow(v, at)  # says what is wrong (or accepts what the fast path was unsure of)
    return check


def mapping(values: Spec, max_items: int = 1 << 16, key_len: int = 256) -> Spec:
    """An object with any keys, every value checked by `values`."""
    def check(v: Any, at: str) -> None:
        if not isinstance(v, dict):
            raise _Bad(at, f"expected an object, got {_name(v)}")
        if len(v) > max_items:
            raise _Bad(at, f"object of {len(v)} keys (at most {max_items})")
        for k, x in v.items():
            if not isinstance(k, str) or len(k) > key_len:
                raise _Bad(at, f"key {str(k)[:40]!r} is too long")
            values(x, f"{at}.{k}" if at else k)
    return check


def anything(max_depth: int = 16) -> Spec:
    """Any JSON value nested at most `max_depth` deep (the value is kept as it is)."""
    def check(v: Any, at: str) -> None:
        if depth(v) > max_depth:
            raise _Bad(at, f"nested more than {max_depth} levels deep")
    return check


def obj(required: Mapping[str, Spec], optional: Mapping[str, Spec] | None = None, extra: bool = True,
        max_items: int = 4096) -> Spec:
    """An object with these keys (`extra`: other keys allowed, any JSON value nested <= 16 deep)."""
    optional = optional or {}
    rest = anything(16)

    def check(v: Any, at: str) -> None:
        if not isinstance(v, dict):
            raise _Bad(at, f"expected an object, got {_name(v)}")
        if len(v) > max_items:
            raise _Bad(at, f"object of {len(v)} keys (at most {max_items})")
        for key, spec in required.items():
            if key not in v:
                raise _Bad(at, f"missing {key!r}")
            spec(v[key], f"{at}.{key}" if at else key)
        for key, x in v.items():
            where = f"{at}.{key}" if at else str(key)
            if key in required:
                continue
            if key in optional:
                optional[key](x, where)
            elif not extra:
                raise _Bad(at, f"unexpected key {str(key)[:40]!r}")
            else:
                rest(x, where)
    return check


def depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth of a JSON value (0 for a scalar), counted without recursion, stopping at `limit`."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, (list, tuple)):
            d += 1
            deepest = max(deepest, d)
            if deepest >= limit:
                return deepest
            stack.extend((x, d) for x in v if isinstance(x, (dict, list, tuple)))
    return deepest


def validate(value: Any, spec: Spec, what: str) -> Any:
    """`value` if it fits `spec`; else SchemaError "WHAT is malformed (where: what is wrong)"."""
    try:
        spec(value, "")
    except _Bad as e:
        raise SchemaError(f"{what} is malformed ({e})") from None
    return value


def loads(text: str | bytes, what: str, max_depth: int | None = MAX_DEPTH) -> Any:
    """Parse JSON from a file, with a nesting limit; every failure is one SchemaError naming `what`.
    `max_depth=None`: no limit beyond the parser's own (for values a spec checks field by field)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise SchemaError(f"{what} is malformed (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise SchemaError(f"{what} is not valid JSON ({str(e)[:120]})") from None
    if max_depth is not None and depth(value, max_depth + 1) > max_depth:
        raise SchemaError(f"{what} is malformed (nested more than {max_depth} levels deep)")
    return value


def file_name() -> Spec:
    """One plain file name (see safepaths): no separator, no `..`, not absolute."""
    from .safepaths import is_plain_name

    def check(v: Any, at: str) -> None:
        if not is_plain_name(v):
            raise _Bad(at, f"{str(v)[:80]!r} is not a plain file name (it may not point into another folder)")
    return check
