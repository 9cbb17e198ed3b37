"""Telegram's webhook: an ASGI app (Starlette) served by uvicorn inside the bot's event loop, in the pattern
python-telegram-bot documents for custom webhook frameworks (examples/customwebhookbot).

Unlike PTB's own `start_webhook`, which answers 200 as soon as an update is queued in memory, the route
answers 200 only after the adapter has handed the update to the core and the core has stored it, and 500
otherwise, so Telegram delivers it again (the inbox is idempotent on the message id): the same at-least-once
guarantee as polling. A request without the secret token is refused with 403, a body that is no update with
400. The app is a plain Starlette app, so the web desk can mount it beside its own routes later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

#: the handler the adapter gives: the update's JSON → the HTTP status to answer (200, 400, 500)
OnUpdate = Callable[[Any], Awaitable[int]]


def webhook_app(path: str, secret_token: str | None, on_update: OnUpdate) -> Starlette:
    async def receive(request: Request) -> JSONResponse:
        if secret_token and request.headers.get("x-telegram-bot-api-secret-token") != secret_token:
            return JSONResponse({}, status_code=403)
        try:
            data = await request.json()
        except ValueError:
            log.warning("telegram: webhook body is not JSON: %r", (await request.body())[:200])
            return JSONResponse({}, status_code=400)
        return JSONResponse({}, status_code=await on_update(data))

    return Starlette(routes=[Route(path or "/", receive, methods=["POST"])])


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the bot's runner owns SIGINT and SIGTERM and stops the adapter."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebhookServer:
    def __init__(self, app: Starlette, listen: str, port: int) -> None:
        config = uvicorn.Config(app, host=listen, port=port, lifespan="off", log_level="warning", access_log=False)
        self._server = _Server(config)
        self._task: asyncio.Task | None = None

    async def start(self) -> int:
        """Serve in the background; the port it listens on (the one asked for, or the one given for 0)."""
        self._task = asyncio.create_task(self._server.serve(), name="telegram-webhook")
        while not self._server.started:
            if self._task.done():  # it could not bind: say why
                self._task.result()
                raise RuntimeError("telegram: the webhook server stopped at start")
            await asyncio.sleep(0.01)
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.should_exit = True
        task, self._task = self._task, None
        if task is not None:
            await task
