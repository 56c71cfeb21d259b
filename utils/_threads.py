"""One way to run a block on a fixed number of torch intra-op threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` and restore the previous count after it,
    also on error. ``None`` leaves the count alone.

    Small models on 28x28 or 64x64 images are too small to split across threads: on a busy
    2-core machine, handing such work between two threads was measured 5-10x slower than one
    thread in the labs, so training and augmentation loops pin one thread here.
    """
    before = torch.get_num_threads()
    if n is not None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int or None, got {n!r}")
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
