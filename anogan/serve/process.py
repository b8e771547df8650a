"""``anogan serve`` in a child process on a free loopback port, for tests and load scripts.

Example:
    >>> with ServerProcess(["--model", "runs/m3"]) as server:  # doctest: +SKIP
    ...     httpx.post(f"{server.base_url}/v1/score", files=...)
    >>> server.exit_code  # doctest: +SKIP
    0
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from typing import Optional, Sequence

from anogan.errors import AnoganError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """Start ``anogan serve ARGS --port P`` on entry, wait for ``/readyz``; SIGTERM it on exit.

    Args:
        args: the ``anogan serve`` arguments, without ``--port``.
        ready_timeout: seconds to wait for a warm scorer.
        quiet: discard the server's output (else it is kept in ``stdout`` and ``stderr`` pipes).
    """

    def __init__(self, args: Sequence[str], ready_timeout: float = 300.0, quiet: bool = True):
        self.args, self.ready_timeout, self.quiet = list(args), ready_timeout, quiet
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None
        self.exit_code: Optional[int] = None

    def __enter__(self) -> "ServerProcess":
        output = subprocess.DEVNULL if self.quiet else subprocess.PIPE
        self.process = subprocess.Popen([sys.executable, "-m", "anogan", "serve", *self.args, "--port", str(self.port)],
                                        stdout=output, stderr=output)
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AnoganError(f"anogan serve exited with status {self.process.returncode} before it was ready")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AnoganError(f"anogan serve was not ready after {self.ready_timeout:g} s")

    @property
    def pid(self) -> int:
        return self.process.pid

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.exit_code = self.process.wait(timeout=60) if self.process is not None else None
