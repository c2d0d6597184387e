"""A stdlib HTTP endpoint on 127.0.0.1 that records the OpenLineage events posted to it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        receiver = self.server.receiver
        with receiver.lock:
            receiver.received.append((self.path, dict(self.headers), json.loads(body)))
            refuse = receiver.fail_after is not None and len(receiver.received) > receiver.fail_after
        self.send_response(400 if refuse else 201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Receiver:
    """Records ``(path, headers, event)`` of each POST; answers 201 (400 after ``fail_after`` posts).

    :meth:`stop` and :meth:`start` take it down and bring it back on the same port.
    """

    def __init__(self, port: int = 0):
        self.received: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()
        self.fail_after: int | None = None
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def events(self) -> list[dict]:
        with self.lock:
            return [event for _, _, event in self.received]

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Closes the port: posts are refused (connection refused) until :meth:`start`."""
        self._server.shutdown()
        self._server.server_close()
