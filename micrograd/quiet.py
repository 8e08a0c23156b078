"""Numpy's floating-point warnings, silenced the way PyTorch never shows them, cheaply.

The numpy engine follows float64 PyTorch: overflow gives inf, 0/0 gives nan, and no
warning is printed. So every op runs under np.errstate(all="ignore") (@quiet). Entering
an errstate costs about half a microsecond, several times per training step of a small
net: 6 % of it. A training loop enters `quietly()` once instead, and the ops inside it
skip their own errstate (a ContextVar says they are already quiet, per thread, as
numpy's error state is).
"""
import functools
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

__all__ = ["quiet", "quietly"]

_QUIET = ContextVar("micrograd_quiet", default=False)
_ignore_errors = np.errstate(all="ignore")  # as a decorator, one errstate is safe to share


@contextmanager
def quietly():
    """`with quietly():` numpy's floating-point warnings off for a block of ops, entered once."""
    with np.errstate(all="ignore"):
        token = _QUIET.set(True)
        try:
            yield
        finally:
            _QUIET.reset(token)


def quiet(fn):
    """Decorator: fn runs with numpy's floating-point warnings off, at no cost inside quietly()."""
    fn_ignoring_errors = _ignore_errors(fn)

    @functools.wraps(fn)
    def quiet_fn(*args, **kwargs):
        return fn(*args, **kwargs) if _QUIET.get() else fn_ignoring_errors(*args, **kwargs)
    return quiet_fn
