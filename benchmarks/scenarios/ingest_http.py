"""ingest_http: requests/s and latency of the slim ingest path, served for real over loopback.

`carereach ingest` (uvicorn with uvloop and httptools, one process, as production runs it
behind a load balancer) is started on the benchmark database; wrk, a load generator written in
C, drives it over loopback with 64 keep-alive connections from one thread, so the client takes
as little of the server's CPU as it can on a shared machine. Each figure sends a file of
prepared requests, each once, and stops when all have been answered:

- `trivial` (**baseline**): `GET /hooks/health`, the same server answering with no Carereach work
  (no signature, no form, no database);
- `receipts`: signed Twilio status callbacks (`POST /hooks/twilio/status`), each verified,
  parsed and committed by the group-commit writer before its 200;
- `inbound`: signed inbound texts (`POST /hooks/twilio/inbound`), each with its own message id
  (the unique index deduplicating carrier retries is checked for every one);
- `clicks`: `GET /l/<token>` for tracked links, each token requested twice in random order (the
  in-process cache misses on about half), a browser's user agent: 302 at once, clicks stored
  in batches.

For each it prints wrk's p50/p99/max latency, the server process's CPU seconds and, after the
load, that the database holds every acknowledged callback (and every click, with how long the
click writer took to drain once the load stopped). The `seconds` column is wrk's run time with
its start-up; `client CPU s` is wrk's.

wrk comes from Debian (`apt-get install wrk`); without it the scenario says so and records
nothing.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection

from benchmarks.harness import Context, HarnessError, batched, scenario

CONNECTIONS = 64
ACCOUNT_SID = "AC" + "b0" * 16
AUTH_TOKEN = "bench-auth-token-" + "0" * 15
SENDER = "+18005550100"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile"
LINK_URL = "https://media.example.org/episode-1.mp3"

# Per wrk thread: read the prepared requests (method, path, signature, body; one per line),
# send them in order (from the top again when all have gone), count answers with a status
# other than the expected one, print one summary line.
LUA = r"""
local requests, unexpected, sent = {}, 0, 0
local expected = 200

function init(args)
  expected = tonumber(args[2])
  local agent = args[3] or ""
  for line in io.lines(args[1]) do
    local method, path, sig, body = line:match("^(%S+)\t(%S+)\t(%S*)\t(.*)$")
    local headers = {}
    if agent ~= "" then headers["User-Agent"] = agent end
    if method == "POST" then
      headers["Content-Type"] = "application/x-www-form-urlencoded"
      headers["X-Twilio-Signature"] = sig
    else
      body = nil
    end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
end

function request()
  sent = sent + 1
  return requests[((sent - 1) % #requests) + 1]
end

function response(status, headers, body)
  if status ~= expected then unexpected = unexpected + 1 end
end

function done(summary, latency, requests_)
  io.write(string.format("WRK %d %d %d %d %d %d %d %.0f %.0f %.0f %d\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max, unexpected))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    socket_errors: int
    status_errors: int
    unexpected: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sign(url: str, form: dict[str, str]) -> str:
    import base64
    import hashlib
    import hmac

    data = url + "".join(name + form[name] for name in sorted(form))
    return base64.b64encode(
        hmac.new(AUTH_TOKEN.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {
        **os.environ,
        "CARE_HOME": str(folder),
        "CARE_SMS_PROVIDER": "twilio",
        "CARE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "CARE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "CARE_LOG_LEVEL": "WARNING",
    }
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "carereach.cli", "ingest", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("carereach ingest did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wrk(
    url: str, requests_file: Path, expected: int, duration: int, *, agent: str = ""
) -> WrkResult:
    script = requests_file.with_suffix(".lua")
    script.write_text(LUA)
    completed = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
            "--",
            str(requests_file),
            str(expected),
            agent,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in completed.stdout.splitlines() if ln.startswith("WRK "))
    n, duration_us, c, r, w, t, status, p50, p99, peak, unexpected = line.split()[1:]
    return WrkResult(
        requests=int(n),
        seconds=int(duration_us) / 1e6,
        socket_errors=int(c) + int(r) + int(w) + int(t),
        status_errors=int(status),
        unexpected=int(unexpected),
        p50_ms=float(p50) / 1000,
        p99_ms=float(p99) / 1000,
        max_ms=float(peak) / 1000,
    )


def _peak_rss(pid: int) -> int:
    """The process's highest resident set size so far, in bytes (Linux /proc VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _figure(
    ctx: Context,
    label: str,
    url: str,
    process: subprocess.Popen[bytes],
    requests_file: Path,
    expected: int,
    *,
    agent: str = "",
    baseline: bool = False,
) -> WrkResult:
    """Load the server for the scale's duration; record requests/s with the server's CPU."""
    duration = ctx.sized(small=5, full=20)
    cpu_before = _cpu_of(process.pid)
    result = _wrk(url, requests_file, expected, duration, agent=agent)
    server_cpu = _cpu_of(process.pid) - cpu_before
    ctx.record(
        label,
        result.requests,
        result.seconds,
        cpu_seconds=server_cpu,
        peak_rss_bytes=_peak_rss(process.pid),
        baseline=baseline,
    )
    print(
        f"    p50 {result.p50_ms:.1f} ms · p99 {result.p99_ms:.1f} ms · max {result.max_ms:.0f} ms"
        f" · other status {result.unexpected:,} · socket errors {result.socket_errors:,}"
        f" · server CPU {server_cpu:.1f} s · load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return result


def _write_lines(path: Path, lines: Iterator[str]) -> None:
    with path.open("w") as out:
        for line in lines:
            out.write(line + "\n")


def _callbacks(url: str, kind: str, count: int, start: int) -> Iterator[str]:
    path = f"/hooks/twilio/{kind}"
    for n in range(start, start + count):
        sid = f"SM{n:032d}"
        if kind == "status":
            form = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": "delivered",
                "SmsStatus": "delivered",
                "AccountSid": ACCOUNT_SID,
                "From": SENDER,
                "To": f"+1415555{n % 10_000:04d}",
                "ApiVersion": "2010-04-01",
            }
        else:
            form = {
                "MessageSid": sid,
                "SmsMessageSid": sid,
                "AccountSid": ACCOUNT_SID,
                "From": f"+1415555{n % 10_000:04d}",
                "To": SENDER,
                "Body": "Yes, see you Tuesday at 10",
                "NumMedia": "0",
                "NumSegments": "1",
                "ApiVersion": "2010-04-01",
            }
        yield f"POST\t{path}\t{_sign(url + path, form)}\t{urlencode(form)}"


def _tokens(count: int) -> list[str]:
    alphabet = string.ascii_letters + string.digits
    chooser = random.Random(6)
    return ["".join(chooser.choices(alphabet, k=16)) for _ in range(count)]


def _links(tokens: list[str]) -> None:
    """An approved version and one tracked link per token (untimed setup)."""
    from carereach.bulk import insert_rows
    from carereach.content.models import ContentItem, ContentVersion, TrackedLink

    now = datetime.now(UTC)
    item = ContentItem.objects.create(
        code="bench-links", title="Bench links", kind="article", created_at=now, updated_at=now
    )
    version = ContentVersion.objects.create(
        item=item, number=1, status="approved", created_at=now, updated_at=now
    )
    adapt = connection.ops.adapt_datetimefield_value
    for batch in batched(enumerate(tokens), 5_000):
        insert_rows(
            table=TrackedLink._meta.db_table,
            columns=("token", "version_id", "message_key", "position", "url", "created_at"),
            rows=[(t, version.pk, f"bench:{n}", 0, LINK_URL, adapt(now)) for n, t in batch],
        )


def _ensure_wrk() -> None:
    """wrk from Debian, installed on first use where apt-get may run; else one clear line."""
    if shutil.which("wrk"):
        return
    print("  wrk is missing: installing Debian's package (apt-get install wrk)", flush=True)
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False)
    if not shutil.which("wrk"):
        raise HarnessError("ingest_http needs wrk: install it (Debian: apt-get install wrk)")


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return int(cursor.fetchone()[0])


@scenario("ingest_http", databases=("postgresql",))
def ingest_http(ctx: Context) -> None:
    """Requests/s and p50/p99 of signed callbacks and link clicks over HTTP, vs a trivial GET."""
    from carereach.content.models import LinkClick, TrackedLink
    from carereach.messaging.models import IngestEvent

    _ensure_wrk()
    # Requests prepared per figure: more than a run sends at the target rate, so inbound texts
    # and tokens are not repeated (receipts may be: carriers send several per message).
    receipts = ctx.sized(small=40_000, full=150_000)
    inbound = ctx.sized(small=40_000, full=150_000)
    clicks = ctx.sized(small=40_000, full=200_000)
    events, link_table, click_table = (
        IngestEvent._meta.db_table,
        TrackedLink._meta.db_table,
        LinkClick._meta.db_table,
    )
    if _count(events) or _count(link_table):
        raise RuntimeError("ingest_http needs a database without callbacks or tracked links")
    tokens = _tokens(clicks // 2)
    _links(tokens)
    with tempfile.TemporaryDirectory(prefix="carereach-bench-ingest-") as name:
        folder = Path(name)
        try:
            with _server(folder) as (url, process):
                health = folder / "trivial.txt"
                _write_lines(health, iter(["GET\t/hooks/health\t\t"]))
                _figure(ctx, "trivial", url, process, health, 200, baseline=True)

                status_file = folder / "receipts.txt"
                _write_lines(status_file, _callbacks(url, "status", receipts, 0))
                result = _figure(ctx, "receipts", url, process, status_file, 200)
                _check_stored(events, "status", result)

                inbound_file = folder / "inbound.txt"
                _write_lines(inbound_file, _callbacks(url, "inbound", inbound, receipts))
                result = _figure(ctx, "inbound", url, process, inbound_file, 200)
                _check_stored(events, "inbound", result, distinct=inbound)

                order = tokens + tokens
                random.Random(7).shuffle(order)
                clicks_file = folder / "clicks.txt"
                _write_lines(clicks_file, (f"GET\t/l/{token}\t\t" for token in order))
                result = _figure(ctx, "clicks", url, process, clicks_file, 302, agent=BROWSER)
                _check_clicks(click_table, result)
        finally:
            with connection.cursor() as cursor:
                for table in (click_table, link_table, events):
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608
            from carereach.content.models import ContentItem, ContentVersion

            ContentVersion.objects.filter(item__code="bench-links").delete()
            ContentItem.objects.filter(code="bench-links").delete()


def _check_stored(table: str, kind: str, result: WrkResult, distinct: int = 0) -> None:
    """Every acknowledged callback is in the table (inbound texts once each: past `distinct`
    requests the file starts over and the repeats are carrier retries, stored once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {connection.ops.quote_name(table)} WHERE kind = %s",  # noqa: S608
            [kind],
        )
        stored = int(cursor.fetchone()[0])
    acknowledged = result.requests - result.unexpected
    if distinct:
        acknowledged = min(acknowledged, distinct)
    verdict = "every acknowledged one stored" if stored >= acknowledged else "LOST SOME"
    print(f"    {kind}: {acknowledged:,} acknowledged, {stored:,} stored: {verdict}", flush=True)


def _check_clicks(table: str, result: WrkResult) -> None:
    """The load has stopped; wait for the click writer to drain and say how long it took."""
    redirected = result.requests - result.unexpected
    start = time.monotonic()
    stored = _count(table)
    while stored < redirected and time.monotonic() - start < 10:
        time.sleep(0.02)
        stored = _count(table)
    drained = time.monotonic() - start
    print(
        f"    clicks: {redirected:,} redirected, {stored:,} stored,"
        f" the last {drained * 1000:.0f} ms after the load stopped",
        flush=True,
    )
