"""waitress, made to stay up for honest clients while others hold sockets open.

waitress alone stops accept()ing once `connection_limit` sockets are open, and closes a
socket only after `channel_timeout` seconds with no byte at all, so ~100 idle sockets, or
100 that send one header byte every few seconds, keep everyone else out. waitress has no
hook for this and no other kept library does it on a Pi without a second process, so this
module subclasses waitress's server and channel (pinned to waitress 3.x in setup.cfg):

- the server always accepts; at the limit it closes the connection that costs honest
  clients least: from the address holding the most sockets, the one that has waited
  longest without a whole request. A connection whose request is being served is never
  closed;
- each request must arrive whole in time: headers within `header_timeout` of its first
  byte, headers and body within `request_timeout` (408 otherwise); an idle keep-alive
  socket closes after `idle_timeout`;
- waitress's own errors (400, 413, 431, 500, ...) are JSON like the app's, and after one
  the server reads and drops what the client is still sending before it closes, so a
  client uploading too much reads the 413 instead of a broken pipe.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections import Counter

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, WSGITask

from flower_edge.errors import one_line
from flower_edge.serve.limits import Limits

CHECK_EVERY_S = 1  # how often deadlines are checked: waitress's cleanup_interval
ACCEPT_BATCH = 128  # connections taken per event-loop turn


def error_body(message: str) -> bytes:
    return json.dumps({"error": one_line(message)}).encode()


def _json_message(error, server) -> str:
    """The one-line message for one of waitress's own errors (utilities.Error)."""
    if error.code == 413:
        return server.too_large_message
    if error.code == 431:
        return (f"request headers over this server's limit of {server.adj.max_request_header_size // 1024} kB; "
                f"send fewer or shorter headers")
    if error.code == 500:
        return "internal error; see the server's log"
    return f"{error.reason.lower()}: {error.body}"


class CountingTask(WSGITask):
    """The app's answer, counted for the log's summary line."""

    def service(self):
        try:
            super().service()
        finally:
            self.channel.server.stats.response(self.status)


class JsonErrorTask(ErrorTask):
    """waitress's own error answers (bad framing, too large, ...) as `{"error": ...}`."""

    def execute(self):
        error = self.request.error
        body = error_body(_json_message(error, self.channel.server))
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        self.channel.linger_after_close = True  # the client may still be sending its body

    def service(self):
        try:
            super().service()
        finally:
            self.channel.server.stats.response(self.status)


class GuardedChannel(HTTPChannel):
    """A connection that knows when its current request began, and can linger."""

    task_class = CountingTask
    error_task_class = JsonErrorTask
    request_started = None  # time.time() of the first byte of the request being received
    waiting_since = None    # since when this connection has held a slot without a whole request
    _timed = None           # the parser that request_started belongs to
    linger_after_close = False
    read_early = False      # read_waiting took bytes this turn's poll may still announce
    linger_until = None     # set while reading and dropping what a refused client still sends

    def received(self, data):
        if self.linger_until is not None:
            return True  # dropped: the answer is already sent
        served = len(self.requests)
        result = super().received(data)
        if len(self.requests) != served:
            self.waiting_since = time.time()  # a whole request arrived: its next wait starts now
        if self.request is None:
            self.request_started = self._timed = None
        elif self.request is not self._timed:
            self._timed, self.request_started = self.request, time.time()
        return result

    def read_waiting(self) -> None:
        """Take what the client has sent that the loop has not read yet (never blocks)."""
        if self.socket is None or self.linger_until is not None or self.closing:
            return
        try:
            data = self.socket.recv(self.adj.recv_bytes)
        except OSError:  # nothing waiting (EAGAIN), or a broken connection: nothing to save
            return
        if data:
            self.last_activity = time.time()
            self.received(data)
            self.read_early = True

    def handle_read(self):
        # After read_waiting, this turn's poll may still announce the bytes it took: waitress
        # would take the EAGAIN for a broken socket and close a connection mid-request.
        if self.read_early:
            self.read_early = False
            try:
                self.socket.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                return
            except OSError:
                pass  # a real error: waitress's handle_read closes the connection
        super().handle_read()

    def handle_close(self):
        # After an error answer, half-close and keep reading: closing with unread bytes
        # makes the kernel send a reset, and the client loses the answer.
        if self.linger_after_close and self.linger_until is None and not self.total_outbufs_len \
                and self.socket is not None:
            try:
                self.socket.shutdown(1)  # SHUT_WR: the client sees the answer, then EOF
            except OSError:
                return super().handle_close()
            self.linger_until = time.time() + self.server.limits.request_timeout
            self.will_close = self.close_when_flushed = False
            self.request = None
            return None
        return super().handle_close()

    @property
    def closing(self) -> bool:
        return bool(self.will_close or self.close_when_flushed)

    def eviction_rank(self) -> tuple:
        """Lower goes first: lingering, then whoever has held its slot longest without sending
        a whole request (since it connected, or since its last whole request). A client that
        connected a moment ago is the least likely to be part of a flood."""
        if self.linger_until is not None:
            return (0, self.linger_until)
        return (1, self.waiting_since or self.creation_time)

    def overdue(self, now: float, limits: Limits) -> str | None:
        """Which deadline this connection has missed, if any (only when no request is being served)."""
        if self.linger_until is not None:
            return "linger" if now > self.linger_until else None
        if self.request is None:
            return "idle" if now - self.last_activity > limits.idle_timeout else None
        began = self.request_started or self.last_activity
        if not self.request.headers_finished and now - began > limits.header_timeout:
            return f"the request headers did not arrive within {limits.header_timeout} s (--header-timeout)"
        if now - began > limits.request_timeout:
            return f"the request did not arrive within {limits.request_timeout} s (--request-timeout)"
        return None

    def time_out(self, why: str) -> None:
        """Close this connection; a client mid-request is told why (408) first."""
        if why in ("idle", "linger"):
            self.will_close = True
            return
        body = error_body(why)
        head = (f"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        with self.outbuf_lock:
            self.outbufs[-1].append(head + body)
            self.total_outbufs_len += len(head) + len(body)
        self.close_when_flushed = True


def _group(addr) -> str:
    """The client's address, IPv6 by /64 (one host usually owns a whole /64)."""
    host = addr[0] if isinstance(addr, tuple) else str(addr)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


class GuardedServer(TcpWSGIServer):
    """TcpWSGIServer that never stops accepting; `limits` say what a connection may hold."""

    channel_class = GuardedChannel

    def __init__(self, app, limits: Limits, stats, too_large_message: str, **kw):
        self.limits, self.stats, self.too_large_message = limits, stats, too_large_message
        super().__init__(app, map={}, connection_limit=limits.max_connections,
                         channel_timeout=limits.idle_timeout, cleanup_interval=CHECK_EVERY_S, **kw)
        self.task_dispatcher.queue_logger = stats  # its "Task queue depth" lines become a figure

    def handle_error(self):
        # wasyncore's default closes the listening socket on any error in accept or
        # maintenance: log it and keep serving instead.
        self.logger.exception("error in the server's event loop (still serving)")

    def readable(self):
        now = time.time()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = now + self.adj.cleanup_interval
            self.maintenance(now)
        return self.accepting  # never stop accepting: handle_accept makes room instead

    def maintenance(self, now):
        for channel in list(self.active_channels.values()):
            if channel.requests or channel.closing:
                continue  # being served (the app's own limits apply), or already closing
            why = channel.overdue(now, self.limits)
            if why:
                channel.time_out(why)
                self.stats.add("idle closed" if why == "idle" else "timed out")

    def handle_accept(self):
        # Take every waiting connection now (waitress takes one per loop): under a flood
        # of reconnecting sockets an honest client otherwise waits behind the whole queue.
        channels = [c for c in self.active_channels.values() if not c.closing]
        room, victims = self.adj.connection_limit - len(channels), None
        for _ in range(ACCEPT_BATCH):
            try:
                accepted = self.accept()
                if accepted is None:
                    return  # nothing more waiting
                conn, addr = accepted
                self.set_socket_options(conn)
            except OSError:
                return  # the client went away first (waitress ignores these too)
            if room > 0:
                room -= 1
            else:
                victim = next(victims, None) if victims else None
                if victim is None:  # first time, or all taken: ask again, this turn's new ones included
                    victims = self._victims([c for c in self.active_channels.values() if not c.closing])
                    victim = next(victims, None)
                if victim is None:  # every connection is being answered: refuse this one
                    conn.close()
                    self.stats.add("refused")
                    continue
                # closed by the loop, so its fd is not reused while this poll's events run
                victim.will_close = True
                self.stats.add("evicted")
            self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    @staticmethod
    def _victims(channels):
        """Who goes first at the limit: never one being answered; the address holding the most."""
        per_group = Counter(_group(c.addr) for c in channels)
        candidates = [c for c in channels if not c.requests]
        for channel in sorted(candidates, key=lambda c: (-per_group[_group(c.addr)], *c.eviction_rank())):
            channel.read_waiting()  # a request already sent, but not yet read, saves it
            if not channel.requests:
                yield channel
