"""Reading an HTTP answer from a server curate does not control (a judge model's endpoint, a
trace store): whole within a deadline, and no larger than a limit."""

from __future__ import annotations

import time
from typing import Any


class BodyTooLarge(Exception):
    """The answer decoded past the limit (a gzip body can expand a thousandfold)."""


class TooSlow(Exception):
    """The whole answer did not come within the deadline: a server that trickles a byte at a
    time never trips a read timeout, which counts the time between bytes."""


def read_body(response: Any, *, max_bytes: int, timeout: float) -> bytes:
    """The whole body of a streamed httpx response, or BodyTooLarge / TooSlow."""
    deadline = time.monotonic() + timeout
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"an answer of over {max_bytes >> 20} MB")
        if time.monotonic() > deadline:
            raise TooSlow(f"no whole answer within {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)
