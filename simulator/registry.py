"""Named registries of user-extensible parts (regimes, data laws), filled by decorators and entry points.

A `Registry` maps names to records in registration order. Names are identifier-like
(`NAME_PATTERN`); registering a second, different function under a taken name raises,
naming both origins, while registering the same function again (or a reloaded copy of
it: same module and qualified name, not a lambda) keeps one entry, the latest. On the first `all()` the package
entry points of the registry's group are loaded (`importlib.metadata.entry_points`): each
entry point's object is either a function, registered under the entry point's name
unless importing it already registered it, or a module whose import registers its
functions (docs/SPEC.md §5 "Registering a regime or a data law").
"""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import types
from collections.abc import Callable
from typing import Any, Generic, TypeVar

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

R = TypeVar("R")


class RegistryError(ValueError):
    """A registration or an entry point failed (a taken name, an entry point that does not import, …)."""


def is_name(value: Any) -> bool:
    """Whether value is a non-empty identifier-like string (`[A-Za-z_][A-Za-z0-9_.-]*`)."""
    return isinstance(value, str) and NAME_PATTERN.fullmatch(value) is not None


def origin_of(fn: Callable[..., Any]) -> str:
    """Where a function was defined: `module.qualname`."""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


class Registry(Generic[R]):
    """Records of one kind by name; `make(name, fn, origin, **details)` builds a record, `fn_of(record)` reads its
    function.

    `kind` names the kind in messages ("regime", "data law"); `group` is the entry point group
    loaded on the first `all()`; `error` is the exception class raised for failures.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        make: Callable[..., R],
        fn_of: Callable[[R], Callable[..., Any]],
        error: type[Exception],
        reserved: tuple[str, ...] = (),
    ):
        self.kind, self.group, self.make, self.fn_of, self.error = kind, group, make, fn_of, error
        self.reserved = reserved
        self._records: dict[str, R] = {}
        self._origins: dict[str, str] = {}
        self._entry_points_loaded = False

    def add(self, name: str, fn: Callable[..., Any], origin: str | None = None, **details: Any) -> R:
        """Register fn under name with the record's `details` (see the module docstring); returns the record kept."""
        if not is_name(name):
            raise ValueError(
                f"{self.kind} name = {name!r} is not allowed: must be a non-empty identifier-like "
                f"string ([A-Za-z_][A-Za-z0-9_.-]*)"
            )
        if name in self.reserved:
            raise ValueError(f"{self.kind} name = {name!r} is not allowed: it is reserved ({', '.join(self.reserved)})")
        if not callable(fn):
            raise TypeError(f"{self.kind} {name!r}: {fn!r} is not a function")
        origin = origin or origin_of(fn)
        old = self._records.get(name)
        if old is not None:
            old_fn = self.fn_of(old)
            if old_fn is fn:
                return old
            if origin_of(old_fn) != origin_of(fn) or origin_of(fn).endswith("<lambda>"):
                raise self.error(
                    f"{self.kind} {name!r} is already registered from {self._origins[name]}; "
                    f"cannot register {origin} under the same name (choose another name)"
                )
        record = self.make(name, fn, origin, **details)
        self._records[name] = record  # a reloaded function replaces its old copy in place (order kept)
        self._origins[name] = origin
        return record

    def all(self) -> dict[str, R]:
        """Every record, in registration order, after loading the entry point group once."""
        if not self._entry_points_loaded:
            self._load_entry_points()
            self._entry_points_loaded = True
        return dict(self._records)

    def _load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=self.group):
            where = f"entry point {ep.name} = {ep.value} (group {self.group})"
            try:
                obj = ep.load()
            except Exception as e:
                raise self.error(f"{where} failed to import: {type(e).__name__}: {e}") from e
            if isinstance(obj, types.ModuleType):
                continue  # importing it registered its functions
            if any(self.fn_of(r) is obj for r in self._records.values()):
                continue  # a decorated function: registered by its import
            if not callable(obj) or inspect.isclass(obj):
                raise self.error(f"{where} is {type(obj).__name__}, not a {self.kind} function or a module")
            try:
                self.add(ep.name, obj, origin=where)
            except ValueError as e:
                raise self.error(f"{where}: {e}") from e

    def unknown(self, name: Any, how: str) -> ValueError:
        """The error for a name that is not registered, listing those that are and saying how to add one."""
        return ValueError(
            f"{self.kind} {name!r} is not registered; registered: {', '.join(self.all()) or 'none'}. {how}"
        )
