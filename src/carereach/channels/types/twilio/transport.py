"""Twilio Programmable Messaging over its REST API: send texts, read status callbacks and inbound.

`send` POSTs one message to `/2010-04-01/Accounts/{sid}/Messages.json` and maps the answer by two
tables: Twilio's message statuses to ours (`STATUSES`) and its error codes to "try again later or
not" (`ERRORS`). Callbacks are checked with `verify` (X-Twilio-Signature, as Twilio's own helper
libraries check it) before anything reads them. Configuration and the console steps are in
doc.md beside this file.

Twilio does not deduplicate our sends, so the transport is not idempotent: a message whose
outcome is unknown after a worker died is never sent again blindly (see messaging's dispatch).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
from django.conf import settings

from carereach.channels.base import (
    LATE,
    DeliveryStatus,
    InboundText,
    Outbound,
    SendResult,
    StatusReport,
    too_late,
)
from carereach.errors import ConfigError, ValidationError

T = TypeVar("T")
CODE = "twilio"
MESSAGES_PATH = "/2010-04-01/Accounts/{sid}/Messages.json"
# Where carereach.ingest serves this provider's callbacks, under CARE_PUBLIC_URL.
STATUS_CALLBACK_PATH = f"/hooks/{CODE}/status"
INBOUND_PATH = f"/hooks/{CODE}/inbound"
SIGNATURE_HEADER = "X-Twilio-Signature"
USER_AGENT = "carereach-twilio/1"

# Twilio's MessageStatus → ours. Anything not listed is a malformed callback.
STATUSES: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,  # a Messaging Service took it and is choosing a sender
    "scheduled": DeliveryStatus.QUEUED,  # held by Twilio's scheduler (we never ask for it)
    "queued": DeliveryStatus.QUEUED,  # waiting in Twilio's queue for the sender's rate
    "sending": DeliveryStatus.QUEUED,  # being handed to the carrier, not on the network yet
    "sent": DeliveryStatus.SENT,  # the carrier took it
    "delivered": DeliveryStatus.DELIVERED,  # the carrier confirmed the handset got it
    "read": DeliveryStatus.DELIVERED,  # a read receipt (RCS, WhatsApp): delivered and opened
    "partially_delivered": DeliveryStatus.UNDELIVERED,  # some segments never arrived
    "undelivered": DeliveryStatus.UNDELIVERED,  # the carrier gave up (see ErrorCode)
    "failed": DeliveryStatus.FAILED,  # Twilio could not send it (see ErrorCode)
    "canceled": DeliveryStatus.FAILED,  # a scheduled message cancelled before it went
}


class ErrorRule(NamedTuple):
    retryable: bool  # True when the same request may succeed later
    meaning: str  # our words, stored with the message (Twilio's text can quote the number)


# Twilio error codes, from a send's answer or a status callback's ErrorCode. Codes not listed
# fall back on the HTTP status: 429 and 5xx are retryable, other 4xx are not.
ERRORS: dict[str, ErrorRule] = {
    "20003": ErrorRule(True, "Twilio refused the credentials (check CARE_TWILIO_*)"),
    "20429": ErrorRule(True, "too many requests to Twilio's API"),
    "20500": ErrorRule(True, "Twilio had an internal error"),
    "20503": ErrorRule(True, "Twilio's service was unavailable"),
    "21211": ErrorRule(False, "the recipient's number is not a valid phone number"),
    "21408": ErrorRule(False, "sending to this region is not enabled on the account"),
    "21602": ErrorRule(False, "the message body is empty"),
    "21606": ErrorRule(False, "the sender number cannot send SMS on this account"),
    "21610": ErrorRule(False, "the recipient has unsubscribed (replied STOP) at the carrier"),
    "21612": ErrorRule(False, "Twilio cannot route to the recipient's number"),
    "21614": ErrorRule(False, "the recipient's number is not a mobile number"),
    "21617": ErrorRule(False, "the message body is longer than 1,600 characters"),
    "30001": ErrorRule(True, "the sender's queue overflowed"),
    "30003": ErrorRule(True, "the handset was unreachable"),
    "30005": ErrorRule(False, "the number is unknown or no longer in service"),
    "30006": ErrorRule(False, "the number is a landline or unreachable carrier"),
    "30007": ErrorRule(False, "the carrier filtered the message (review its content)"),
    "30565": ErrorRule(False, "the carrier refused this content on this sender type"),
}

# Failures before Twilio answered. A connection error, or a timeout while connecting or waiting
# for a pooled connection, means nothing was sent: retried. A timeout while waiting for the
# answer means Twilio may have taken it, and Twilio cannot dedupe our sends: not retried, so the
# person never gets it twice; the message fails with that reason for a person to look at.
CONNECTION_ERROR = "connection"
TIMEOUT = "timeout"


def retryable(code: str, http_status: int = 0) -> bool:
    """Whether a failure with this Twilio error code (and HTTP status) may succeed later."""
    rule = ERRORS.get(code)
    if rule is not None:
        return rule.retryable
    return http_status == 429 or http_status >= 500


# --- signatures ---------------------------------------------------------------------------


def _signed_fields(params: Mapping[str, str | Sequence[str]]) -> str:
    """Each field's name+value, names sorted, each distinct value of a name sorted."""
    # Starlette's form has `multi_items`, Django's `getlist` (every value of a repeated field);
    # asked by attribute: isinstance against a runtime-checkable Protocol costs more than the HMAC.
    grouped: dict[str, set[str]] = {}
    multi_items = getattr(params, "multi_items", None)
    if multi_items is not None:
        for name, value in multi_items():
            grouped.setdefault(name, set()).add(value)
    else:
        getlist = getattr(params, "getlist", None)
        for name in params:
            value = params[name]
            if getlist is not None:
                grouped[name] = set(getlist(name))
            else:
                grouped[name] = {value} if isinstance(value, str) else set(value)
    return "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))


def _hmac_sha1(auth_token: str, text: str) -> str:
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def compute_signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """base64(HMAC-SHA1(token, url + name+value per name sorted, per distinct value sorted))."""
    return _hmac_sha1(auth_token, url + _signed_fields(params))


def body_sha256(body: bytes) -> str:
    """The hex digest Twilio puts in `?bodySHA256=` when it posts a JSON body."""
    return hashlib.sha256(body).hexdigest()


def _split_netloc(netloc: str) -> tuple[str, str, str]:
    """`user:pass@host:port` → (`user:pass@`, `host`, `port`); IPv6 hosts keep their brackets."""
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        end = hostport.find("]") + 1
        host, rest = hostport[:end], hostport[end:]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    return userinfo + at, host, port


def url_variants(url: str) -> list[str]:
    """The spellings of one URL that Twilio's helper libraries accept a signature for.

    Twilio has signed with and without the default port over the years, so the URL is tried
    without any port and with the scheme's default port added; and twilio-node percent-encodes a
    single quote in the query (WHATWG URL) while older code did not, so both spellings count.
    """
    scheme, netloc, path, query, fragment = urlsplit(url)
    userinfo, host, port = _split_netloc(netloc)
    default = {"https": "443", "http": "80"}.get(scheme.lower(), "")
    netlocs = [userinfo + host, f"{userinfo}{host}:{port or default}" if port or default else ""]
    queries = [query, query.replace("'", "%27"), query.replace("%27", "'")]
    variants = [url]  # exactly as given first: re-assembling can drop a trailing "?"
    for spelled_query in queries:
        for spelled_netloc in netlocs:
            if spelled_netloc:
                candidate = urlunsplit((scheme, spelled_netloc, path, spelled_query, fragment))
                if candidate not in variants:
                    variants.append(candidate)
    return variants


def signature_valid(
    auth_token: str,
    url: str,
    params: Mapping[str, str | Sequence[str]],
    signature: str,
    *,
    body: bytes | None = None,
) -> bool:
    """Check X-Twilio-Signature in constant time. A URL carrying `bodySHA256` signs a JSON body:
    the body must hash to it and the form parameters are empty."""
    bodies = parse_qs(urlsplit(url).query).get("bodySHA256") if "bodySHA256" in url else None
    if bodies:
        if body is None or not hmac.compare_digest(
            body_sha256(body).encode("ascii"), bodies[0].encode("utf-8")
        ):
            return False
        params = {}
    given = signature.encode("utf-8")
    fields = _signed_fields(params)  # the same for every spelling of the URL
    # The URL exactly as called first: how carriers sign today. Stopping at a match tells the
    # caller nothing a 200 does not; a refusal still tries every spelling, each in constant time.
    if hmac.compare_digest(_hmac_sha1(auth_token, url + fields).encode("ascii"), given):
        return True
    matched = False
    for candidate in url_variants(url)[1:]:
        expected = _hmac_sha1(auth_token, candidate + fields).encode("ascii")
        matched |= hmac.compare_digest(expected, given)  # no early exit: same work either way
    return matched


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value


# --- sending --------------------------------------------------------------------------------
#
# aiohttp on one event loop per process (a daemon thread): a dispatch batch goes out as
# concurrent requests over pooled keep-alive connections, each at its pacing slot. Measured
# against a loopback Twilio on this project's 2-core machines, aiohttp made 1,200 to 1,400
# requests/s from one process where httpx2 made 870 (one at a time) or 340 (its async client).

CONCURRENCY = 32  # requests in flight per process (Twilio limits concurrent API calls per account)
LOOKUP_PAGES = 10  # pages of 100 read when reconciling one message
STRAGGLER_BATCH = 50  # batches at least this big do not wait for their last few slow requests
STRAGGLER_AFTER = 0.25  # seconds: a request slower than this and 3x the batch's median
QUICK_RETRY = 0.0  # an API hiccup without Retry-After: dispatch's short backoff decides


class _Wire:
    """The process's event loop thread and its pooled sessions, made on first use."""

    _lock = threading.Lock()
    _current: _Wire | None = None

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.sessions: dict[tuple[str, float, int], aiohttp.ClientSession] = {}
        thread = threading.Thread(target=self.loop.run_forever, name="twilio-wire", daemon=True)
        thread.start()

    @classmethod
    def get(cls) -> _Wire:
        wire = cls._current
        if wire is None or wire.pid != os.getpid():  # a forked child needs its own thread
            with cls._lock:
                wire = cls._current
                if wire is None or wire.pid != os.getpid():
                    wire = cls._current = _Wire()
        return wire

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def session(self, api_base: str, timeout: float, concurrency: int) -> aiohttp.ClientSession:
        """Called on the loop: one session (connection pool) per base URL and timeout."""
        key = (api_base, timeout, concurrency)
        session = self.sessions.get(key)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                base_url=api_base,
                connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
                ),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                auto_decompress=False,
            )
            self.sessions[key] = session
        return session


def _json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _retry_after(header: str | None) -> float | None:
    """Retry-After in seconds (Twilio sends seconds; an HTTP date is read too)."""
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def result_from_response(
    http_status: int, body: bytes, retry_after_header: str | None = None
) -> SendResult:
    """Map Twilio's answer to a send: 201 with the message, or an error document."""
    data = _json(body)
    if http_status in (200, 201):
        sid = _text(data.get("sid"))
        if not sid:  # something was created that we cannot track: never risk a second copy
            return SendResult(
                accepted=False, error_code="bad_response", error_message="no sid in Twilio's answer"
            )
        return _accepted(data)
    code = _text(data.get("code")) or f"http_{http_status}"
    rule = ERRORS.get(code)
    again = retryable(code, http_status)
    hiccup = http_status == 429 or http_status >= 500
    return SendResult(
        accepted=False,
        error_code=code,
        error_message=rule.meaning if rule else f"Twilio answered HTTP {http_status}",
        retryable=again,
        retry_after=(_retry_after(retry_after_header) or QUICK_RETRY) if again and hiccup else None,
    )


def credentials_check(account_sid: str, auth_token: str) -> None:
    """ConfigError naming the variable when the Account SID or the Auth Token is unusable."""
    if not account_sid:
        raise ConfigError(
            "CARE_TWILIO_ACCOUNT_SID is not set: expected the Account SID (AC…) "
            "from the Twilio console"
        )
    if not (account_sid.startswith("AC") and len(account_sid) == 34 and account_sid.isalnum()):
        raise ConfigError(
            "CARE_TWILIO_ACCOUNT_SID is malformed: expected AC followed by 32 characters"
        )
    if not auth_token:
        raise ConfigError("CARE_TWILIO_AUTH_TOKEN is not set: expected the account's Auth Token")


def _accepted(data: Mapping[str, object]) -> SendResult:
    try:
        segments = max(int(_text(data.get("num_segments")) or 1), 1)
    except ValueError:
        segments = 1
    return SendResult(
        accepted=True,
        provider_message_id=_text(data.get("sid")),
        status=STATUSES.get(_text(data.get("status")), DeliveryStatus.QUEUED),
        segments=segments,
    )


UNREACHABLE = SendResult(
    accepted=False,
    error_code=CONNECTION_ERROR,
    error_message="could not reach Twilio",
    retryable=True,
    retry_after=QUICK_RETRY,
)
NO_ANSWER = SendResult(
    accepted=False,
    error_code=TIMEOUT,
    error_message="Twilio did not answer in time and may have sent it; not retried until a "
    "lookup says it did not go",
    unknown=True,
)


def _created_at(data: Mapping[str, object]) -> datetime | None:
    try:
        return parsedate_to_datetime(_text(data.get("date_created")))
    except (TypeError, ValueError):
        return None


class TwilioTransport:
    code = CODE
    idempotent = False  # Twilio does not deduplicate our sends on any key
    paced = True  # about 1 segment/s per long code, 100/s per short code
    channels = frozenset({"sms"})

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_base: str = "https://api.twilio.com",
        status_callback: str = "",
        timeout: float = 5.0,
        concurrency: int = CONCURRENCY,
    ) -> None:
        credentials_check(account_sid, auth_token)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_base = api_base.rstrip("/")
        self.status_callback = status_callback
        self.timeout = timeout
        self.concurrency = concurrency
        credentials = f"{account_sid}:{auth_token}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._path = MESSAGES_PATH.format(sid=account_sid)

    @classmethod
    def from_settings(cls) -> TwilioTransport:
        return cls(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            api_base=settings.TWILIO_API_BASE,
            status_callback=settings.CARE_PUBLIC_URL + STATUS_CALLBACK_PATH,
            timeout=float(settings.TWILIO_TIMEOUT_SECONDS),
            concurrency=settings.TWILIO_CONCURRENCY,
        )

    def __repr__(self) -> str:  # never the token
        name = type(self).__name__
        return f"{name}(account_sid={self.account_sid!r}, api_base={self.api_base!r})"

    def send(self, message: Outbound) -> SendResult:
        return self.send_batch([message], [None])[0]

    def send_batch(
        self, messages: Sequence[Outbound], slots: Sequence[datetime | None]
    ) -> list[SendResult]:
        """POST every message concurrently (at most `concurrency` at once), each not before its
        slot; one result per message, in order."""
        if not messages:
            return []
        wire = _Wire.get()
        return wire.run(self._send_all(wire, messages, slots))

    async def _send_all(
        self, wire: _Wire, messages: Sequence[Outbound], slots: Sequence[datetime | None]
    ) -> list[SendResult]:
        session = wire.session(self.api_base, self.timeout, self.concurrency)
        gate = asyncio.Semaphore(self.concurrency)
        clock = asyncio.get_running_loop().time
        posting: dict[int, float] = {}  # message index → when its request started
        took: list[float] = []  # how long each finished request took

        async def post(n: int, message: Outbound) -> SendResult:
            posting[n] = clock()
            result = await self._post(session, message)
            took.append(clock() - posting.pop(n))
            return result

        async def one(n: int, message: Outbound, slot: datetime | None) -> SendResult:
            if slot is None:
                async with gate:
                    return await post(n, message)
            # A paced message goes at its slot, not queued behind others (its sender's rate
            # keeps it to a few in flight), and not at all once too late.
            wait = (slot - datetime.now(UTC)).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            if too_late(slot, datetime.now(UTC)):
                return LATE
            return await post(n, message)

        pairs = enumerate(zip(messages, slots, strict=True))
        tasks = [asyncio.create_task(one(n, m, s)) for n, (m, s) in pairs]
        pending = set(tasks)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=0.05)
            if pending and self._stragglers(pending, tasks, posting, took, clock()):
                break
        # Stragglers finish (or time out) on their own; their outcome is unknown to us: a
        # lookup settles it later, so one slow request never holds up the whole batch.
        return [t.result() if t.done() else NO_ANSWER for t in tasks]

    @staticmethod
    def _stragglers(
        pending: set[asyncio.Task[SendResult]],
        tasks: list[asyncio.Task[SendResult]],
        posting: dict[int, float],
        took: list[float],
        now: float,
    ) -> bool:
        """True when the only requests left are a few (2% of a batch of 50 or more) that have
        been waiting far longer than this batch's requests take (3x the median, 250 ms at
        least), and no paced message is still waiting for its slot."""
        if len(tasks) < STRAGGLER_BATCH or len(pending) > len(tasks) // 50 or not took:
            return False
        if len(posting) < len(pending):
            return False  # some are waiting for a slot or for the gate
        typical = sorted(took)[len(took) // 2]
        limit = max(3 * typical, STRAGGLER_AFTER)
        return all(now - started > limit for started in posting.values())

    def _form(self, message: Outbound) -> list[tuple[str, str]]:
        # A Messaging Service (MG…) picks the sender from its pool; otherwise our number sends.
        sender = "MessagingServiceSid" if message.sender.startswith("MG") else "From"
        form = [("To", message.to), ("Body", message.body), (sender, message.sender)]
        callback = message.status_callback or self.status_callback
        if callback:
            form.append(("StatusCallback", callback))
        return form

    async def _post(self, session: aiohttp.ClientSession, message: Outbound) -> SendResult:
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            async with session.post(
                self._path, data=urlencode(self._form(message)).encode(), headers=headers
            ) as response:
                body = await response.read()
                return result_from_response(
                    response.status, body, response.headers.get("Retry-After")
                )
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError):
            return UNREACHABLE  # the request never left: nothing was sent
        except (TimeoutError, aiohttp.ClientError):
            # No answer in time, or the connection broke after the request went out: Twilio may
            # have taken it, and Twilio does not deduplicate; a lookup decides later.
            return NO_ANSWER

    def post_form(self, path: str, form: Mapping[str, str]) -> SendResult:
        """One authenticated form POST to the account's `path` (a voice call), its answer mapped
        like a message's. No answer in time is an unknown outcome, never retried blindly."""
        return _Wire.get().run(self._post_form(path, form))

    async def _post_form(self, path: str, form: Mapping[str, str]) -> SendResult:
        session = _Wire.get().session(self.api_base, self.timeout, self.concurrency)
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            async with session.post(
                path.format(sid=self.account_sid), data=urlencode(form).encode(), headers=headers
            ) as response:
                body = await response.read()
                return result_from_response(
                    response.status, body, response.headers.get("Retry-After")
                )
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError):
            return UNREACHABLE
        except (TimeoutError, aiohttp.ClientError):
            return NO_ANSWER

    def lookup(self, message: Outbound, since: datetime) -> list[SendResult] | None:
        """Twilio's messages to this number from this sender created since `since` with exactly
        this text, newest first (the Messages list filtered by `To` and `From`; a Messaging
        Service's messages are matched on `messaging_service_sid`). None when Twilio cannot be
        asked now."""
        return _Wire.get().run(self._lookup(message, since))

    async def _lookup(self, message: Outbound, since: datetime) -> list[SendResult] | None:
        session = _Wire.get().session(self.api_base, self.timeout, self.concurrency)
        service = message.sender.startswith("MG")
        query = {"To": message.to, "PageSize": "100"}
        if not service:
            query["From"] = message.sender
        url: str | None = f"{self._path}?{urlencode(query)}"
        found: list[SendResult] = []
        for _ in range(LOOKUP_PAGES):
            if url is None:
                break
            try:
                async with session.get(url, headers={"Authorization": self._authorization}) as got:
                    if got.status != 200:
                        return None
                    page = _json(await got.read())
            except (TimeoutError, aiohttp.ClientError):
                return None
            rows = page.get("messages")
            if not isinstance(rows, list):
                return None
            older = False
            for row in rows:
                created = _created_at(row)
                if created is None or created < since:
                    older = True
                    continue
                ours = row.get("messaging_service_sid" if service else "from") == message.sender
                if ours and row.get("to") == message.to and row.get("body") == message.body:
                    found.append(_accepted(row))
            next_page = page.get("next_page_uri")
            url = str(next_page) if next_page and not older else None
        return None if url is not None else found  # pages left unread: cannot tell

    def verify(
        self,
        url: str,
        params: Mapping[str, str | Sequence[str]],
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> bool:
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            return False
        return signature_valid(self.auth_token, url, params, signature, body=body)

    def parse_status(self, params: Mapping[str, str]) -> StatusReport:
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        raw = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if not sid:
            raise ValidationError("status callback without MessageSid", field="MessageSid")
        status = STATUSES.get(raw.strip().lower())
        if status is None:
            raise ValidationError("status callback with an unknown MessageStatus", field="status")
        return StatusReport(
            provider_message_id=sid,
            status=status,
            error_code=(params.get("ErrorCode") or "").strip(),
        )

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText:
        sid = params.get("MessageSid") or params.get("SmsMessageSid") or ""
        for name, value in (("MessageSid", sid), ("From", params.get("From"))):
            if not value:
                raise ValidationError(f"inbound text without {name}", field=name)
        if "To" not in params or "Body" not in params:
            raise ValidationError("inbound text without To or Body", field="Body")
        return InboundText(
            provider_message_id=sid,
            sender=params["From"],
            to=params["To"],
            body=params["Body"],
        )
