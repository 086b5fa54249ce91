"""A stand-in for Twilio on loopback: its Messages API, and the signed callbacks it posts.

`FakeTwilio` is a real HTTP server on 127.0.0.1 (a random port) speaking the shape of
`POST /2010-04-01/Accounts/{sid}/Messages.json`: it checks basic auth (401 + 20003 otherwise),
records every request, and answers 201 with a new SM… sid unless a scripted answer is queued.
`callback` posts a form to one of our webhook URLs signed the way Twilio signs (its own few
lines of HMAC-SHA1, independent of the code under test).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx2

SID = "AC" + "a1" * 16
TOKEN = "fake-auth-token-0123456789abcdef"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.form)

    @property
    def auth(self) -> tuple[str, str]:
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        assert scheme == "Basic"
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user, password


@dataclass
class Answer:
    status: int
    body: str = ""
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class FakeTwilio:
    account_sid: str = SID
    auth_token: str = TOKEN
    requests: list[Seen] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)
    url: str = ""

    def answer(self, status: int, body: object = "", *, delay: float = 0.0) -> None:
        """Queue the answer to the next request (JSON for dicts, raw text otherwise)."""
        text = json.dumps(body) if isinstance(body, dict) else str(body)
        kind = "application/json" if isinstance(body, dict) else "text/html"
        self.answers.append(Answer(status, text, delay, kind))

    def error(self, http_status: int, code: int, message: str = "error") -> None:
        """Twilio's error document."""
        self.answer(
            http_status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": http_status,
            },
        )

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        seen = Seen(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            form=parse_qsl(raw, keep_blank_values=True),
        )
        self.requests.append(seen)
        answer = self.answers.popleft() if self.answers else self._created(seen)
        if answer.delay:
            time.sleep(answer.delay)
        payload = answer.body.encode()
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout test)

    def _created(self, seen: Seen) -> Answer:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        calls = f"/2010-04-01/Accounts/{self.account_sid}/Calls.json"
        if seen.path == calls and seen.method == "POST":
            return self._call(seen)
        if seen.path != expected or seen.method != "POST":
            return Answer(404, json.dumps({"code": 20404, "message": "not found", "status": 404}))
        try:
            user, password = seen.auth
        except (AssertionError, ValueError):
            user, password = "", ""
        if (user, password) != (self.account_sid, self.auth_token):
            return Answer(401, json.dumps({"code": 20003, "message": "auth", "status": 401}))
        fields = seen.fields
        body = {
            "sid": "SM" + secrets.token_hex(16),
            "account_sid": self.account_sid,
            "to": fields.get("To"),
            "from": fields.get("From"),
            "messaging_service_sid": fields.get("MessagingServiceSid"),
            "body": fields.get("Body"),
            "status": "accepted" if "MessagingServiceSid" in fields else "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "error_code": None,
            "error_message": None,
            "price": None,
        }
        return Answer(201, json.dumps(body))

    def _call(self, seen: Seen) -> Answer:
        """The Calls resource: 201 with a CA… sid, queued (Twiml, To and From required)."""
        if seen.auth != (self.account_sid, self.auth_token):
            return Answer(401, json.dumps({"code": 20003, "message": "auth", "status": 401}))
        fields = seen.fields
        if not fields.get("To") or not fields.get("From") or not fields.get("Twiml"):
            return Answer(400, json.dumps({"code": 21205, "message": "missing", "status": 400}))
        body = {
            "sid": "CA" + secrets.token_hex(16),
            "account_sid": self.account_sid,
            "to": fields["To"],
            "from": fields["From"],
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
        }
        return Answer(201, json.dumps(body))

    @property
    def calls(self) -> list[dict[str, str]]:
        """The form of every call request, oldest first."""
        return [r.fields for r in self.requests if r.path.endswith("/Calls.json")]

    @property
    def sent(self) -> list[dict[str, str]]:
        """The form of every message request, oldest first."""
        return [r.fields for r in self.requests if r.path.endswith("/Messages.json")]

    def callback(self, url: str, params: Mapping[str, str]) -> httpx2.Response:
        """POST a form to one of our webhooks, signed as Twilio signs it."""
        return httpx2.post(
            url, data=dict(params), headers={"X-Twilio-Signature": self.sign(url, params)}
        )

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        data = url + "".join(name + params[name] for name in sorted(params))
        digest = hmac.new(self.auth_token.encode(), data.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake._handle(self)

        do_GET = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-twilio", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
