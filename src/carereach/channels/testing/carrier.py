"""A loopback test carrier: a real HTTP/1.1 server speaking the shape of Twilio's Messages API.

For tests and benchmarks only. It answers `POST /2010-04-01/Accounts/{sid}/Messages.json`
(basic auth, form body; 201 with a new SM… sid) and the list `GET` of the same path with
Twilio's `To` and `From` filters, newest first, paged (`PageSize`, `Page`, `next_page_uri`),
which is what dispatch's reconciliation reads. It can inject faults (5xx, 429 with Retry-After,
requests held past the client's timeout, created or not), enforce per-sender limits in
segments per second over every sliding one-second window, and add latency.

It is an asyncio protocol with a few lines of HTTP parsing, not a web framework, so that it is
not the bottleneck when the dispatch benchmark measures tens of thousands of requests; it runs in
a thread (`LoopbackCarrier.start`) or its own process (`carrier_process`). Control endpoints
under `/_carrier/` read what it accepted (`accepted`), its counters (`stats`), and reset it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from urllib.request import Request, urlopen

SID = "AC" + "c0" * 16
TOKEN = "loopback-carrier-token-0123456789"  # noqa: S105 (a test carrier's own)
MESSAGES = "/2010-04-01/Accounts/{sid}/Messages.json"
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class CarrierConfig:
    account_sid: str = SID
    auth_token: str = TOKEN
    fault_5xx: float = 0.0  # share of create requests answered 500/503
    fault_429: float = 0.0  # share answered 429 with Retry-After
    fault_timeout: float = 0.0  # share held past the client's timeout
    retry_after: int = 1  # seconds, in the 429's Retry-After header
    hold_seconds: float = 5.0  # how long a "timeout" request is held before it is answered
    timeout_creates: float = 0.5  # share of held requests whose message was created anyway
    limits: dict[str, float] = field(default_factory=dict)  # sender → segments per second
    refuse_over_limit: bool = True  # over a limit: 429 (20429), and counted as a violation
    latency: float = 0.0  # seconds added to every create
    seed: int = 6


@dataclass
class Accepted:
    sid: str
    to: str
    sender: str  # From, or the Messaging Service SID
    body: str
    segments: int
    at: float  # time.time() of arrival
    status_callback: str = ""

    def resource(self, account_sid: str) -> dict[str, object]:
        service = self.sender if self.sender.startswith("MG") else None
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.to,
            "from": None if service else self.sender,
            "messaging_service_sid": service,
            "body": self.body,
            "status": "accepted" if service else "queued",
            "num_segments": str(self.segments),
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": format_datetime(datetime.fromtimestamp(self.at, UTC), usegmt=True),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
        }


def segments_of(body: str) -> int:
    """GSM-7 when every character is ASCII (160, or 153 per part), else UCS-2 (70, or 67)."""
    single, part = (160, 153) if body.isascii() else (70, 67)
    if len(body) <= single:
        return 1
    return -(-len(body) // part)


@dataclass
class SenderWindow:
    limit: float
    recent: deque[tuple[float, int]] = field(default_factory=deque)
    in_window: int = 0
    segments: int = 0
    first: float = 0.0
    last: float = 0.0
    violations: int = 0
    peak: int = 0  # most segments seen in one sliding second

    def admit(self, at: float, segments: int) -> bool:
        """Count a message arriving at `at`; False when its second would exceed the limit."""
        while self.recent and self.recent[0][0] <= at - 1.0:
            self.in_window -= self.recent.popleft()[1]
        if self.in_window + segments > self.limit:
            self.violations += 1
            return False
        self.recent.append((at, segments))
        self.in_window += segments
        self.peak = max(self.peak, self.in_window)
        self.segments += segments
        self.first = self.first or at
        self.last = at
        return True


class CarrierState:
    """Everything the carrier saw; touched only from its event loop."""

    def __init__(self, config: CarrierConfig) -> None:
        self.configure(config)

    def configure(self, config: CarrierConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 (fault injection, not secrets)
        self.path = MESSAGES.format(sid=config.account_sid)
        credentials = f"{config.account_sid}:{config.auth_token}".encode()
        self.authorization = "Basic " + base64.b64encode(credentials).decode()
        self.accepted: list[Accepted] = []
        self.by_to: dict[str, list[Accepted]] = {}
        self.windows = {sender: SenderWindow(limit) for sender, limit in config.limits.items()}
        self.counts: dict[str, int] = {}
        self.serial = 0

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def stats(self) -> dict[str, object]:
        bodies: dict[str, int] = {}
        for message in self.accepted:
            bodies[message.body] = bodies.get(message.body, 0) + 1
        return {
            "accepted": len(self.accepted),
            "duplicate_bodies": sum(n - 1 for n in bodies.values() if n > 1),
            "counts": dict(self.counts),
            "senders": {
                sender: {
                    "limit": window.limit,
                    "segments": window.segments,
                    "first": window.first,
                    "last": window.last,
                    "violations": window.violations,
                    "peak": window.peak,
                }
                for sender, window in self.windows.items()
            },
        }

    def create(self, form: Mapping[str, str]) -> Accepted | None:
        """Record a message; None when its sender is over its limit (and refusing)."""
        body = form.get("Body", "")
        sender = form.get("MessagingServiceSid") or form.get("From", "")
        at = time.time()
        segments = segments_of(body)
        window = self.windows.get(sender)
        if window is not None and not window.admit(at, segments) and self.config.refuse_over_limit:
            return None
        self.serial += 1
        message = Accepted(
            sid=f"SM{self.serial:08x}{self.rng.getrandbits(96):024x}",
            to=form.get("To", ""),
            sender=sender,
            body=body,
            segments=segments,
            at=at,
            status_callback=form.get("StatusCallback", ""),
        )
        self.accepted.append(message)
        self.by_to.setdefault(message.to, []).append(message)
        return message


Response = tuple[int, bytes, tuple[tuple[str, str], ...]]


def _json(status: int, data: object, *headers: tuple[str, str]) -> Response:
    return status, json.dumps(data).encode(), headers


def _error(status: int, code: int, message: str, *headers: tuple[str, str]) -> Response:
    return _json(status, {"code": code, "message": message, "status": status}, *headers)


class CarrierProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests, answer them in order."""

    def __init__(self, state: CarrierState) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a held request: answer it before reading the next

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head[0].split(" ", 2)
            self.handle(method, target, headers, body)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        state = self.state
        url = urlsplit(target)
        if url.path.startswith("/_carrier/"):
            self.answer(self.control(method, url.path, body))
            return
        if url.path != state.path or method not in ("GET", "POST"):
            self.answer(_error(404, 20404, "not found"))
            return
        if headers.get("authorization") != state.authorization:
            self.answer(_error(401, 20003, "authenticate"))
            return
        if method == "GET":
            self.answer(self.listing(dict(parse_qsl(url.query))))
            return
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if not form.get("To") or not form.get("Body"):
            self.answer(_error(400, 21602, "A 'To' and a 'Body' are required"))
            return
        config = state.config
        roll = state.rng.random()
        if roll < config.fault_timeout:
            state.count("timeout")
            created = state.rng.random() < config.timeout_creates
            message = state.create(form) if created else None
            if message is not None:
                state.count("timeout_created")
            answer = (
                _json(201, message.resource(config.account_sid))
                if message
                else _error(500, 20500, "lost")
            )
            self.busy = True
            asyncio.get_running_loop().call_later(config.hold_seconds, self.release, answer)
            return
        roll -= config.fault_timeout
        if roll < config.fault_5xx:
            state.count("5xx")
            status = 503 if state.rng.random() < 0.5 else 500
            self.answer(_error(status, 20500 if status == 500 else 20503, "try later"))
            return
        roll -= config.fault_5xx
        if roll < config.fault_429:
            state.count("429")
            retry = ("Retry-After", str(config.retry_after))
            self.answer(_error(429, 20429, "Too Many Requests", retry))
            return
        message = state.create(form)
        if message is None:
            state.count("over_limit")
            self.answer(_error(429, 20429, "over the sender's rate", ("Retry-After", "1")))
            return
        state.count("created")
        answer = _json(201, message.resource(config.account_sid))
        if config.latency:
            self.busy = True
            asyncio.get_running_loop().call_later(config.latency, self.release, answer)
        else:
            self.answer(answer)

    def release(self, answer: Response) -> None:
        self.busy = False
        self.answer(answer)
        if self.transport is not None and self.buffer:
            self.data_received(b"")

    def listing(self, query: Mapping[str, str]) -> Response:
        state = self.state
        rows = state.by_to.get(query["To"], []) if "To" in query else state.accepted
        if "From" in query:
            rows = [m for m in rows if m.sender == query["From"]]
        size = min(int(query.get("PageSize") or 50), 1000)
        page = int(query.get("Page") or 0)
        newest = rows[::-1][page * size : (page + 1) * size]
        more = len(rows) > (page + 1) * size
        following = {**query, "Page": str(page + 1), "PageSize": str(size)}
        return _json(
            200,
            {
                "messages": [m.resource(state.config.account_sid) for m in newest],
                "page": page,
                "page_size": size,
                "next_page_uri": f"{state.path}?{urlencode(following)}" if more else None,
            },
        )

    def control(self, method: str, path: str, body: bytes) -> Response:
        state = self.state
        if path == "/_carrier/stats":
            return _json(200, state.stats())
        if path == "/_carrier/accepted":
            return _json(200, [asdict(m) for m in state.accepted])
        if path == "/_carrier/configure" and method == "POST":
            state.configure(CarrierConfig(**json.loads(body or b"{}")))
            return _json(200, {"ok": True})
        return _error(404, 20404, "no such control")

    def answer(self, response: Response) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        status, payload, headers = response
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        self.transport.write(
            (
                f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n{extra}\r\n"
            ).encode()
            + payload
        )


async def _serve(state: CarrierState, port: int = 0) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: CarrierProtocol(state), "127.0.0.1", port, reuse_address=True, backlog=1024
    )


class LoopbackCarrier:
    """The carrier on a thread of this process: `start()`, then `url`, `state`, `stop()`."""

    def __init__(self, config: CarrierConfig | None = None) -> None:
        self.state = CarrierState(config or CarrierConfig())
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> LoopbackCarrier:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(_serve(self.state), self._loop).result()
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the carrier's loop (its state is only touched there)."""

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def accepted(self) -> list[Accepted]:
        return list(self.call(lambda: list(self.state.accepted)))

    def configure(self, config: CarrierConfig) -> None:
        self.call(self.state.configure, config)

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> LoopbackCarrier:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve_process(config: dict[str, Any], conn: Any) -> None:
    async def main() -> None:
        server = await _serve(CarrierState(CarrierConfig(**config)))
        conn.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def carrier_process(config: CarrierConfig) -> tuple[multiprocessing.process.BaseProcess, str]:
    """The carrier in a process of its own (benchmarks: its CPU is not the client's); returns
    the process (terminate it when done) and its URL."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve_process, args=(asdict(config), child), daemon=True)
    process.start()
    port = parent.recv()
    return process, f"http://127.0.0.1:{port}"


def control(url: str, what: str, config: CarrierConfig | None = None) -> Any:
    """Read `stats` or `accepted` from a carrier, or `configure` it (which also resets it)."""
    data = json.dumps(asdict(config)).encode() if config is not None else None
    request = Request(f"{url}/_carrier/{what}", data=data, method="POST" if data else "GET")  # noqa: S310
    with urlopen(request, timeout=60) as response:  # noqa: S310 (loopback, our own URL)
        return json.loads(response.read())
