"""Registries for swappable parts (detectors, landmarkers, models), in the spirit of
`timm.create_model("name")`: a part registers itself with a decorator, and the built-in parts are
listed by name -> module so their modules (and the libraries they load) are imported only when used.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """name -> factory. `builtin` maps names to the module (relative to `package`) that registers them."""

    def __init__(self, kind: str, builtin: dict[str, str], package: str) -> None:
        self._kind = kind
        self._builtin = builtin
        self._package = package
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(set(self._builtin) | set(self._factories))

    def get(self, name: str) -> Callable[..., T]:
        """The factory (class or function) registered as `name`; InputError listing the names if none."""
        if name not in self._factories and name in self._builtin:
            importlib.import_module(self._builtin[name], self._package)  # registers on import
        factory = self._factories.get(name)
        if factory is None:
            raise InputError(f"unknown {self._kind} {name!r}; available: {', '.join(self.names())}")
        return factory

    def create(self, name: str, **kwargs: object) -> T:
        factory = self.get(name)
        try:  # a misspelt option is a user error, not a crash inside the backend
            inspect.signature(factory).bind(**kwargs)
        except TypeError as exc:
            options = ", ".join(inspect.signature(factory).parameters) or "none"
            raise InputError(f"{self._kind} {name!r}: {exc} (options: {options})") from exc
        return factory(**kwargs)
