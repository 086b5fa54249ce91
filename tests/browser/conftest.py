"""Browser fixtures: Debian's chromium, driven by Playwright, against pytest-django's live server.

Playwright never downloads a browser here: the tests use /usr/bin/chromium or skip, all with one
reason. Requests to anything but this machine are aborted, as the socket guard does for Python.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from pytest_django.live_server_helper import LiveServer

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
CHROMIUM_MISSING = "Debian chromium not installed; .ci/run installs it"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One chromium for the browser tests, closed when the last of them is done.

    Package scope, not session: Playwright's sync API keeps an asyncio loop marked running in this
    thread until it stops, and later tests calling asyncio.run() would fail while it lives.
    """
    if not CHROMIUM:
        pytest.skip(CHROMIUM_MISSING)
    # Django refuses ORM calls from a thread with a running event loop (SynchronousOnlyOperation),
    # and Playwright's loop counts as running between its calls. The tests never touch the ORM
    # while the loop does anything, so the guard is lifted while the browser lives, then restored.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # launch() gives each browser a fresh temporary profile (user-data-dir) and removes
            # it on close; Playwright refuses an explicit --user-data-dir here.
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class InFlight:
    """WSGI wrapper that counts the requests the live server is still answering.

    Closing the browser does not stop a request its page already sent (an htmx search fired on the
    last keystroke, say). On in-memory SQLite the live server shares the test's connection, so the
    end-of-test flush would meet that request's open cursor ("database table is locked") and leave
    rows behind for the next test. The context fixture waits for the count to reach zero first.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.count = 0
        self.changed = threading.Condition()

    def __call__(
        self, environ: dict[str, object], start_response: Callable[..., object]
    ) -> list[bytes]:
        with self.changed:
            self.count += 1
        try:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            with self.changed:
                self.count -= 1
                self.changed.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.count == 0, timeout):
                raise AssertionError(f"{self.count} request(s) still running after {timeout} s")


@pytest.fixture(scope="session")
def in_flight(live_server: LiveServer) -> InFlight:
    """Installs the request counter in the session's live server, once."""
    httpd = live_server.thread.httpd  # type: ignore[attr-defined]
    counter = InFlight(httpd.get_app())
    httpd.set_app(counter)
    return counter


@pytest.fixture
def context(browser: Browser, in_flight: InFlight) -> Iterator[BrowserContext]:
    """A fresh context per test: no cookies or storage carried over from another test.

    On the way out it waits until the live server has answered every request the pages sent, so
    the database is quiet when pytest-django empties it.
    """
    context = browser.new_context(viewport=DESKTOP)
    # Actions wait up to 15 s: a click that submits real work (an import run) waits for its
    # navigation too, and a loaded CI machine took longer than 5 s for one.
    context.set_default_timeout(15_000)
    blocked: list[str] = []

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    yield context
    context.close()
    in_flight.wait_idle()
    assert not blocked, f"the page tried to reach the network: {blocked}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (gitignored), for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
