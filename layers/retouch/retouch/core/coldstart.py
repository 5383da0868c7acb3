"""An API function's module loads without the cyclic garbage collector, then freezes what it
loaded.

Importing a function builds hundreds of thousands of objects (modules, classes, the routes'
models and validators) that live as long as the instance and are almost never garbage. The
collector still runs every few hundred allocations while they load, and each full collection
walks everything loaded so far, to free nothing: about 6 % of the tasks function's import here
(docs/performance.md, "Cold start of the API functions: the fourth pass"). Inside
`loading_modules()` it does not run; at the end `gc.freeze()` moves every object alive into the
permanent generation, which later collections skip, so neither the first request (whose first
collection would otherwise walk every object the import made) nor a warm one walks them again.
The collector is then back as it was: a request's own cycles are collected as before. What the
import left as cyclic garbage stays, once, for the instance's life.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading_modules() -> Iterator[None]:
    """No collection inside; afterwards every object alive is frozen and the collector is
    enabled again if it was enabled before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
