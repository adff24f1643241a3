"""Every projection of postlog, by name: what the projector runs and what can be rebuilt.

Projection modules are imported when asked for, not when this module loads, so tools that only
need a name (the CLI's argument parsing) stay light.
"""

from __future__ import annotations

from projections.base import Projection


def all_projections() -> list[Projection]:
    """One instance of each read model, in a stable order."""
    from projections.lists import ListsProjection

    return [ListsProjection()]


def projection_by_name(name: str) -> Projection:
    """The projection called ``name``; ``KeyError`` listing the known names otherwise."""
    projections = all_projections()
    for projection in projections:
        if projection.name == name:
            return projection
    known = ", ".join(sorted(p.name for p in projections))
    raise KeyError(f"unknown projection {name!r} (known: {known})")
