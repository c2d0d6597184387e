"""A minimal headless Chromium driven over the DevTools protocol (for the dashboard browser test).

Streamlit renders a page over a websocket after the HTML has loaded, so ``--dump-dom``
(even with ``--virtual-time-budget``) captures only the loading skeleton. Driving one
browser over CDP instead lets a test wait, in real time and bounded, until the page's
own text is on screen, then read the DOM and take the screenshot of that same state.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000", "--remote-debugging-port=0", "--remote-allow-origins=*"]


_SIDEBAR_LEFT = ("(() => { const s = document.querySelector('[data-testid=\"stSidebar\"]');"
                 " return s ? Math.round(s.getBoundingClientRect().left) : null; })()")

_CONTENT_HEIGHT = ("Math.max(1000, ...Array.from(document.querySelectorAll("
                   "'[data-testid=\"stMain\"], [data-testid=\"stMainBlockContainer\"]'), e => e.scrollHeight + 120))")


class Chromium:
    """One headless browser with one tab; use as a context manager.

    Args:
        binary: the chromium executable.
        profile: a fresh directory for the browser profile.
    """

    def __init__(self, binary: str, profile: Path) -> None:
        self._proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = _devtools_port(profile / "DevToolsActivePort", self._proc)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            tab = json.load(response)
        self._ws = connect(tab["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._ids = itertools.count(1)
        self.call("Page.enable")

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self._ws.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def call(self, method: str, **params) -> dict:
        """Sends one CDP command and returns its result (events in between are skipped)."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def open(self, url: str, text: str, timeout: float = 60) -> str:
        """Navigates to ``url`` and waits until ``text`` shows and the app stopped running.

        Returns:
            The page's visible text (``document.body.innerText``).

        Raises:
            TimeoutError: the text did not appear within ``timeout`` seconds.
        """
        self.call("Page.navigate", url=url)
        deadline, body, previous = time.monotonic() + timeout, "", None
        while time.monotonic() < deadline:
            time.sleep(0.5)
            body = self.evaluate("document.body ? document.body.innerText : ''") or ""
            running = self.evaluate("!!document.querySelector('[data-testid=\"stStatusWidget\"]')")
            # settled: same text and sidebar position twice in a row (charts drawn, sidebar slid in)
            state = (body, self.evaluate(_SIDEBAR_LEFT))
            if text in body and not running and state == previous:
                return body
            previous = state
        raise TimeoutError(f"{url} did not show {text!r} within {timeout:.0f}s; it shows: {body[-600:]!r}")

    def count(self, css: str) -> int:
        """How many elements match a CSS selector."""
        return int(self.evaluate(f"document.querySelectorAll({json.dumps(css)}).length"))

    def screenshot(self, path: Path, width: int = 1400, max_height: int = 6000) -> None:
        """Saves a PNG of the whole page to ``path``.

        Streamlit scrolls inside its main container, not the document, so the viewport is
        grown to that container's height for the shot (at most ``max_height`` pixels).
        """
        height = min(max_height, int(self.evaluate(_CONTENT_HEIGHT) or 1000))
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        try:
            time.sleep(1.0)  # charts re-layout to the new size
            data = self.call("Page.captureScreenshot", format="png")["data"]
        finally:
            self.call("Emulation.clearDeviceMetricsOverride")
        path.write_bytes(base64.b64decode(data))


def _devtools_port(marker: Path, proc: subprocess.Popen, timeout: float = 30) -> int:
    # Chromium writes the port it picked (for --remote-debugging-port=0) into this file.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.is_file() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with status {proc.returncode} before listening")
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError("chromium did not open its DevTools port")
