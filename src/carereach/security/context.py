"""The request id of the work in progress, shared by logs and audit entries.

Set by the web middleware per request and by workers per job; read wherever an entry or a log
line needs it, so nobody has to thread it through every call.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("carereach_request_id", default="-")


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def current_request_id() -> str:
    return _request_id.get()


@contextmanager
def request_id_scope(request_id: str | None = None) -> Iterator[str]:
    value = request_id or new_request_id()
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)
