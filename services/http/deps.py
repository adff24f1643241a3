"""Dependency providers shared by both APIs: the process ``Runtime`` lives in ``app.state``."""

from __future__ import annotations

from litestar.datastructures import State

from services.runtime import Runtime


def provide_runtime(state: State) -> Runtime:
    runtime = state.runtime
    assert isinstance(runtime, Runtime)
    return runtime
