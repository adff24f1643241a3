"""The Sprig function map (Masterminds/sprig v3) as listmonk's templates see it: strings
(``sprig_strings``), lists, dicts, maths and dates (``sprig_data``), and defaults, JSON,
conversions, encodings, randomness, paths and URLs (``sprig_misc``), merged here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from .sprig_data import DATA_FUNCS, data_funcs
from .sprig_misc import MISC_FUNCS
from .sprig_strings import STRING_FUNCS


def sprig_funcs(*, clock: Callable[[], datetime] | None = None,
                local_tz: tzinfo = UTC) -> dict[str, Callable[..., Any]]:
    """The Sprig function map (minus env, expandenv, getHostByName and file/crypto helpers).

    clock gives "now" (for now, date, ago...); local_tz is Go's time.Local.
    """
    funcs = {**STRING_FUNCS.functions, **MISC_FUNCS.functions, **DATA_FUNCS.functions}
    funcs.update(data_funcs(clock or (lambda: datetime.now(local_tz)), local_tz))
    return funcs
