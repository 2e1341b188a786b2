"""The fake panel in a process of its own, for the crash tests: python panel.py [--speed X].

It serves :class:`smmapi.testing.FakePanel` with uvicorn on 127.0.0.1 and a free port, its clock
running ``--speed`` times as fast as real time (so orders end while trackers follow them), and
prints ``{"port": ...}`` once it listens. ``GET /_crash/orders`` is the panel's own record of the
orders it created (ID, link, status); ``GET /_crash/requests`` counts the requests per action. It
stops when its standard input closes, so it cannot outlive the test that started it.
"""

import argparse
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from smmapi.testing import FakePanel, Fault

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class CrashPanel:
    """An ASGI app: the fake panel, its clock warped, behind two read-only controls."""

    def __init__(self, panel: FakePanel, speed: float) -> None:
        self.panel = panel
        self.speed = speed
        self.started = time.monotonic()
        self.requests: Counter[str] = Counter()

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.panel(scope, receive, send)
            return
        ahead = (time.monotonic() - self.started) * self.speed - self.panel.now
        if ahead > 0:
            self.panel.advance(ahead)
        if scope["path"] == "/_crash/orders":
            orders = [
                {"order": order.id, "link": order.fields["link"], "status": order.status}
                for order in self.panel.orders.values()
            ]
            await answer(send, orders)
            return
        if scope["path"] == "/_crash/requests":
            self.requests = Counter(request.action for request in self.panel.requests)
            await answer(send, dict(self.requests))
            return
        await self.panel(scope, receive, send)


async def answer(send: Send, body: Any) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class ReadyServer(uvicorn.Server):
    """A uvicorn server that prints its port once it listens."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit and sockets:
            print(json.dumps({"port": sockets[0].getsockname()[1]}), flush=True)  # noqa: T201  (the ready line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=600.0, help="panel seconds per real second")
    parser.add_argument("--add-latency", type=float, default=0.0, help="seconds each add is held")
    args = parser.parse_args()
    panel = FakePanel(balance="100000000", seed=1)
    if args.add_latency:
        # after: the panel has placed the order when the answer is held, as a slow real one has.
        panel.misbehave(Fault.latency(args.add_latency, when="after"), action="add")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = ReadyServer(uvicorn.Config(CrashPanel(panel, args.speed), log_level="warning", lifespan="off"))

    def stop_when_stdin_closes() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
