"""The fake panel on a loopback port, in a process of its own, for the benchmarks over real HTTP.

    python bench/panel_server.py [--orders 10000] [--delay 0.05]

It places ``--orders`` orders (through the fake's own request handler, before any delay is
set), then serves :class:`smmapi.testing.FakePanel` with uvicorn on 127.0.0.1 and a free port,
every request ``--delay`` seconds late (``Fault.latency``: a panel far away). When it is ready it
prints one JSON line, ``{"port": ..., "first_order": ..., "orders": ...}``. It stops when its
standard input closes, so it cannot outlive the bench that started it.

Paths under ``/_bench/`` are the bench's own controls, never delayed nor counted:

- ``GET /_bench/stats``: requests the panel received so far, the IDs they asked, GETs rewritten.
- ``POST /_bench/delay?seconds=S``: every request from now on is S seconds late.
- ``POST /_bench/warp?speed=X``: the panel's clock runs X times as fast as real time from now on
  (0 stops it), so orders move on and end while a watch follows them.

Any other GET with a query string (a client that sends ``?action=...&key=...`` in the URL, as
``optsmm`` does) is handed to the panel as the same fields in a POST form, as panels that read
PHP's ``$_REQUEST`` accept it; the fake itself answers only POST.
"""

import argparse
import json
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from smmapi.testing import FakePanel, Fault, FaultRule

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Orders are cheap on this panel's default service; the balance never runs out.
SERVICE = 104
BALANCE = "100000000"


class BenchPanel:
    """An ASGI app: the fake panel behind a few ``/_bench/`` controls."""

    def __init__(self, panel: FakePanel) -> None:
        self.panel = panel
        self.delay_rule: FaultRule | None = None
        self.gets = 0
        self.requests = 0
        self.warp_speed = 0.0
        self.warp_from = (0.0, 0.0)  # (real time, panel time) when the warp started

    def set_delay(self, seconds: float) -> None:
        if self.delay_rule is not None:
            self.delay_rule.cancel()
        self.delay_rule = self.panel.misbehave(Fault.latency(seconds)) if seconds > 0 else None

    def set_warp(self, speed: float) -> None:
        self.tick()
        self.warp_speed = speed
        self.warp_from = (time.monotonic(), self.panel.now)

    def tick(self) -> None:
        """Move the panel's clock to where the warp says it is now."""
        if self.warp_speed:
            real, start = self.warp_from
            ahead = start + (time.monotonic() - real) * self.warp_speed - self.panel.now
            if ahead > 0:
                self.panel.advance(ahead)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.panel(scope, receive, send)
            return
        if scope["path"].startswith("/_bench/"):
            await self.control(scope, send)
            return
        if scope["method"] == "GET" and scope["query_string"]:
            self.gets += 1
            scope, receive = as_form_post(scope, receive)
        self.requests += 1
        self.tick()
        await self.panel(scope, receive, send)

    async def control(self, scope: Message, send: Send) -> None:
        query = dict(parse_qsl(scope["query_string"].decode()))
        path = scope["path"]
        if path == "/_bench/stats":
            recorded = self.panel.requests
            body: dict[str, Any] = {
                "requests": self.requests,
                "recorded": len(recorded),
                "ids": sum(request.ids for request in recorded),
                "gets": self.gets,
                "now": self.panel.now,
            }
        elif path == "/_bench/delay":
            self.set_delay(float(query["seconds"]))
            body = {"delay": float(query["seconds"])}
        elif path == "/_bench/warp":
            self.set_warp(float(query["speed"]))
            body = {"speed": self.warp_speed, "now": self.panel.now}
        else:
            body = {"error": f"no such control: {path}"}
        payload = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def as_form_post(scope: Message, receive: Receive) -> tuple[Message, Receive]:
    """A GET's query string as the body of a form POST to the same path."""
    body = scope["query_string"]
    headers = [(name, value) for name, value in scope["headers"] if name.lower() != b"content-type"]
    headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    sent = False

    async def receive_form() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        while True:  # after the body, what the server says next (a disconnect), not the GET's body
            message = await receive()
            if message["type"] != "http.request":
                return message

    return {**scope, "method": "POST", "query_string": b"", "headers": headers}, receive_form


def place_orders(panel: FakePanel, count: int) -> list[int]:
    """Place ``count`` orders through the fake's own handler (no HTTP: 100,000 in seconds); their IDs."""
    handle = panel._state.handle  # noqa: SLF001  (the bench's own fake, filled before it serves)
    ids = []
    for number in range(count):
        form = {
            "key": panel.key,
            "action": "add",
            "service": str(SERVICE),
            "link": f"https://t.me/bench/{number}",
            "quantity": "1000",
        }
        ids.append(int(handle(form).body["order"].value))
    return ids


class ReadyServer(uvicorn.Server):
    """A uvicorn server that prints the ready line once it listens."""

    def __init__(self, config: uvicorn.Config, ready: dict[str, Any]) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit and sockets:
            port = sockets[0].getsockname()[1]
            print(json.dumps({"port": port, **self.ready}), flush=True)


def stop_when_stdin_closes(server: uvicorn.Server) -> None:
    """Ask uvicorn to stop once the parent closes our stdin (or dies)."""

    def watch() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000, help="orders to place before serving")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds each request is held")
    args = parser.parse_args()

    panel = FakePanel(balance=BALANCE, seed=1)
    ids = place_orders(panel, args.orders)
    if ids and ids != list(range(ids[0], ids[0] + len(ids))):
        raise SystemExit("the fake panel numbered its orders with gaps")
    app = BenchPanel(panel)
    app.set_delay(args.delay)

    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that name it (and accepted ones
    # inherit it). Without it, Nagle holds the body of each answer until the client's delayed ACK
    # of its headers: 40 ms more per request on a keep-alive connection. Web servers in front of
    # real panels (nginx: tcp_nodelay on) send at once.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=120,  # idle keep-alive connections survive the pauses between scenarios
        backlog=4096,
    )
    server = ReadyServer(config, ready={"first_order": ids[0] if ids else None, "orders": len(ids)})
    stop_when_stdin_closes(server)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
