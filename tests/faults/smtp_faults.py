"""A raw-socket SMTP server that misbehaves on purpose: slow replies, a server that never greets, and
one that takes the whole message and then drops the connection before its `250` (a lost ack).

aiosmtpd answers correctly by design; these faults live below it, in the bytes of the conversation, so
the server is written directly on sockets (one thread per connection) and counts what it received.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tenantops_lab.sandbox.ports import LOOPBACK


class FaultySmtp:
    """`mode`: "slow" (each reply `delay` seconds late), "hang" (accepts, never greets) or "lost-ack"
    (a correct conversation up to the end of DATA, then the connection is closed without a reply)."""

    def __init__(self, mode: str, delay: float = 2.0) -> None:
        if mode not in ("slow", "hang", "lost-ack"):
            raise ValueError(mode)
        self.mode, self.delay = mode, delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.host = LOOPBACK
        self.messages: list[bytes] = []  # bodies received whole (before the reply that may be lost)
        self.connections = 0
        self._conns: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            if self.mode != "hang":
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _reply(self, conn: socket.socket, line: str) -> None:
        if self.mode == "slow":
            time.sleep(self.delay)
        conn.sendall(line.encode() + b"\r\n")

    def _serve(self, conn: socket.socket) -> None:
        try:
            reader = conn.makefile("rb")
            self._reply(conn, "220 faulty ESMTP")
            while True:
                line = reader.readline()
                if not line:
                    return
                verb = line.strip().split(b" ")[0].upper()
                if verb in (b"EHLO", b"HELO"):
                    self._reply(conn, "250 faulty")
                elif verb == b"DATA":
                    self._reply(conn, "354 go ahead")
                    body = b""
                    while True:
                        chunk = reader.readline()
                        if not chunk or chunk == b".\r\n":
                            break
                        body += chunk
                    self.messages.append(body)
                    if self.mode == "lost-ack":
                        conn.shutdown(socket.SHUT_RDWR)
                        conn.close()
                        return
                    self._reply(conn, "250 queued")
                elif verb == b"QUIT":
                    self._reply(conn, "221 bye")
                    return
                else:
                    self._reply(conn, "250 ok")
        except OSError:
            return

    def close(self) -> None:
        self._closed.set()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self.sock.close()


class SilentServer:
    """Accepts connections and never sends a byte: an SMTP server that never greets, a Prometheus that
    never answers. `connected` is set at the first connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.connected = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            self.connected.set()

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self.sock.close()
