"""Run an ASGI app on uvicorn in a background thread, silently, on a free port.

The lab must never write to a notebook cell, so uvicorn's loggers are kept
quiet (no banner, no access log) and the port is chosen by the OS (port 0).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

__all__ = ["ServerThread"]

_QUIET_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _silence_uvicorn() -> None:
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [logging.NullHandler()]
        logger.propagate = False
        logger.setLevel(logging.CRITICAL)


class ServerThread:
    """One uvicorn server in a daemon thread.

    ``start()`` returns once the socket listens; ``stop()`` asks uvicorn to exit
    and, if a request is still in flight after ``grace`` seconds, forces it.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_certfile: Path | None = None,
        ssl_keyfile: Path | None = None,
        quiet: bool = True,
    ) -> None:
        if quiet:
            _silence_uvicorn()
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="critical" if quiet else "info",
            access_log=not quiet,
            log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
            lifespan="off",
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
            timeout_graceful_shutdown=1,
            # h11 is pure Python and always present; httptools would be faster
            # but is an optional compiled extra we do not want to require.
            http="h11",
            # The lab's responses carry no real-time headers: the app adds a Date
            # from the lab clock, so replies are the same every run.
            date_header=False,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="lab-http", daemon=True)
        self.host = host
        self.port = port

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("el servidor HTTP del laboratorio no pudo arrancar")
            if time.monotonic() > deadline:
                raise RuntimeError("el servidor HTTP del laboratorio tardó demasiado en arrancar")
            time.sleep(0.005)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])

    def stop(self, grace: float = 1.0) -> None:
        self._server.should_exit = True
        self._thread.join(grace)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(2.0)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self._server.started
