"""Helpers for the network-door tests: a server on its own event loop in a thread (so a
hypothesis test can drive it with plain sockets), and what a log must never hold."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
"""``FUZZ_EXAMPLES=2000 make test`` for a long run; ``make test`` keeps each suite short."""


def fuzz_examples(default: int) -> int:
    return FUZZ_EXAMPLES or default


class LoopThread:
    """An event loop running in a thread until ``close``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        async def go() -> T:
            return await fn()

        return self.run(go(), timeout)

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    """Log records that carry a traceback or say something failed (ERROR and above)."""
    return [
        f"{r.name} {r.levelname}: {r.getMessage()[:200]}"
        for r in records
        if r.exc_info or r.exc_text or r.levelno >= logging.ERROR
    ]
