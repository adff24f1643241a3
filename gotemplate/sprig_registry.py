"""Tables of Sprig functions with their Go signatures, one per module, merged by ``sprig.py``.

Each Sprig module fills its own ``FunctionTable`` with ``@TABLE.reg("name", params=...)``;
nothing is registered in a shared dictionary as a side effect of importing a module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .values import Signature

F = TypeVar("F", bound=Callable[..., Any])

# Go parameter kinds, as the signatures name them.
S, INT, A = "string", "int", "any"


class FunctionTable:
    """Sprig functions by template name; ``reg`` records one with its Go signature."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[..., Any]] = {}

    def reg(self, *names: str, params: tuple[str, ...] = (), variadic: str | None = None
            ) -> Callable[[F], F]:
        """Register ``fn`` under ``names`` with its Go signature (a decorator)."""

        def mark(fn: F) -> F:
            fn.__go_signature__ = Signature(params, variadic)  # type: ignore[attr-defined]
            for name in names:
                self.functions[name] = fn
            return fn

        return mark
