"""Stage entry point: a failure ends with one line naming the stage and the cause, exit 1.

Set LMFORGE_DEBUG=1 to see the traceback instead.
"""
from __future__ import annotations

import errno
import os
import sys
from typing import Callable


def run(main: Callable[[], None], stage: str) -> None:
    try:
        main()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001 - the one place that turns errors into a message
        if os.environ.get("LMFORGE_DEBUG"):
            raise
        sys.exit(f"{stage}: error: {describe(e)}")


def describe(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left on device" in text:
        where = getattr(e, "filename", None) or "an output"      # polars/arrow wrap ENOSPC in their own errors
        return f"no space left on device while writing {where}; nothing was kept; free space and rerun"
    if isinstance(e, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return text if isinstance(e, (OSError, ValueError, KeyError)) else f"{type(e).__name__}: {text}"
