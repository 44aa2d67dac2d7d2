"""Model libraries kept quiet unless ancre logs details (``-v``): shared by the embedders
and the OpenVINO conversion, so that neither imports the other for it."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Model libraries print progress bars ("Loading weights") and deprecation warnings that
    say nothing to an ancre user: shown only when ancre logs details (``-v``). transformers
    is quietened once something imported it (importing it here would import torch)."""
    if log.isEnabledFor(logging.INFO):
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
        quiet_transformers()


def quiet_transformers() -> None:
    """transformers' progress bars and notices off, if it is imported and ancre is quiet."""
    if "transformers" not in sys.modules or log.isEnabledFor(logging.INFO):
        return
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


@contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """NNCF's rich progress bars (four, during the one-time int8 quantisation) kept off the
    terminal, unless ancre logs details (``-v``): ancre says once what it is doing."""
    if log.isEnabledFor(logging.INFO):
        yield
        return
    from rich import get_console  # NNCF's own dependency, imported with it

    console = get_console()
    was = console.quiet
    console.quiet = True
    try:
        yield
    finally:
        console.quiet = was
