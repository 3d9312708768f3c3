"""Hold hundreds of idle, trickling and keep-alive connections open against `flower-edge serve`
on loopback, and measure whether honest clients still get answers: /healthz latency and
/v1/classify success, for waitress with its default limits (the server before the connection
guard) and for `serve` as shipped.

Everything is on 127.0.0.1 (the script cannot point anywhere else), bounded in connections
and in time. A dropped flood connection is reopened, as a persistent attacker would.

    python benchmarks/bench_serve_flood.py --bundle artifacts/mnv2-224/export/int8 \
        --image ../shared/data/flowers5-eval/rose/some.jpg --idle 300 --trickle 300 --seconds 20

The tests import `Flood`, `probe` and `start_server` from here.
"""

from __future__ import annotations

import argparse
import http.client
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import cli, load_average

HOST = "127.0.0.1"
TRICKLE = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # then "a" forever, one byte a tick
KEEPALIVE = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

# The server before the guard: waitress's defaults (connection_limit 100, channel_timeout 120 s).
WAITRESS_DEFAULTS = """
import sys
from waitress import create_server
from flower_edge.serve.app import create_app
from flower_edge.serve.pool import PredictorPool
app = create_app(PredictorPool(sys.argv[1]), max_bytes=20_000_000)
server = create_server(app, host="127.0.0.1", port=0, threads=8, ident="flower-edge",
                       max_request_body_size=21_048_576, clear_untrusted_proxy_headers=True)
print(f"serving on http://127.0.0.1:{server.effective_port}/", file=sys.stderr, flush=True)
server.run()
"""


def start_server(bundle, server: str = "serve", extra=()):
    """The server in a subprocess on 127.0.0.1: `serve` (the CLI) or `waitress-defaults`."""
    if server == "serve":
        cmd = cli("serve", bundle, "--host", HOST, "--port", "0", *extra)
    else:
        cmd = [sys.executable, "-c", WAITRESS_DEFAULTS, str(bundle)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    line = proc.stderr.readline()
    match = re.search(rf"http://{re.escape(HOST)}:(\d+)/", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {line.strip()} {proc.stderr.read()[-500:]}")
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()
    proc.log = log
    return proc, int(match.group(1))


class Flood:
    """`idle` + `trickle` + `keepalive` connections held open from a child process (so the
    flood does not share an interpreter lock with the probing client), until `seconds` pass
    or the `with` block ends. Trickling ones send one header byte every `interval` seconds."""

    def __init__(self, port: int, idle=0, trickle=0, keepalive=0, interval=5.0, seconds=60.0):
        self.args = [str(x) for x in (port, idle, trickle, keepalive, interval, seconds)]
        self.kinds = ["idle"] * idle + ["trickle"] * trickle + ["keepalive"] * keepalive
        self.reopened = 0

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--flood", *self.args],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "open":
            raise RuntimeError("the flood did not start")
        threading.Thread(target=self._count, daemon=True).start()
        return self

    def _count(self):
        for line in self.proc.stdout:
            self.reopened = int(line.split()[-1])

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Holder:
    """The flood itself: one thread, one selector; a dropped connection is reopened."""

    def __init__(self, port: int, kinds: list[str], interval: float, seconds: float):
        self.port, self.kinds, self.interval = port, kinds, interval
        self.deadline = time.monotonic() + seconds
        self.selector = selectors.DefaultSelector()
        self.reopened = 0

    def _open(self, kind: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.connect((HOST, self.port))
            sock.sendall(KEEPALIVE if kind == "keepalive" else TRICKLE[:1] if kind == "trickle" else b"")
        except OSError:
            sock.close()
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, {"kind": kind, "sent": 1, "next": time.monotonic()})

    def _reopen(self, key) -> None:
        self.selector.unregister(key.fileobj)
        key.fileobj.close()
        self.reopened += 1
        self._open(key.data["kind"])

    def run(self) -> None:
        for kind in self.kinds:
            self._open(kind)
        print("open", flush=True)
        said = time.monotonic()
        while time.monotonic() < self.deadline:
            for key, _ in self.selector.select(timeout=0.05):
                try:
                    closed = not key.fileobj.recv(65536)  # keep-alive answers, or the server's EOF
                except BlockingIOError:
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    self._reopen(key)
            now = time.monotonic()
            for key in list(self.selector.get_map().values()):
                self._trickle(key, now)
            self._refill()
            if now - said > 0.5:
                print(f"reopened {self.reopened}", flush=True)
                said = now

    def _trickle(self, key, now: float) -> None:
        state = key.data
        if state["kind"] != "trickle" or now < state["next"]:
            return
        i = state["sent"]
        try:
            key.fileobj.send(TRICKLE[i:i + 1] or b"a")
            state["sent"], state["next"] = i + 1, now + self.interval
        except BlockingIOError:
            pass
        except OSError:
            self._reopen(key)

    def _refill(self) -> None:
        """Reopen the ones whose connect failed (retried each tick)."""
        want = list(self.kinds)
        for key in self.selector.get_map().values():
            want.remove(key.data["kind"])
        for kind in want:
            self._open(kind)


def healthz(port: int, timeout: float) -> float | None:
    """Seconds for GET /healthz on a fresh connection, or None when it did not answer 200 in time."""
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
    except (OSError, http.client.HTTPException):
        return None
    elapsed = time.perf_counter() - t0
    return elapsed if ok and elapsed <= timeout else None


def classify(port: int, body: bytes, timeout: float) -> bool:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        conn.request("POST", "/v1/classify", body=body, headers={"Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        ok = response.status == 200 and b'"label"' in response.read()
        conn.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def probe(port: int, body: bytes, seconds: float, timeout: float = 5.0) -> dict:
    """/healthz every 0.25 s and /v1/classify every 0.5 s, one at a time, for `seconds`."""
    latencies, classified, tries = [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        latencies.append(healthz(port, timeout))
        if len(latencies) % 2 == 0:
            tries += 1
            classified += classify(port, body, timeout * 2)
        time.sleep(0.25)
    answered = sorted(t for t in latencies if t is not None)
    return {"healthz": len(latencies), "within_1s": sum(t <= 1.0 for t in answered),
            "p50_ms": answered[len(answered) // 2] * 1000 if answered else float("nan"),
            "max_ms": answered[-1] * 1000 if answered else float("nan"),
            "unanswered": latencies.count(None), "classify_ok": classified, "classify": tries}


def flood_main(argv: list[str]) -> int:
    port, idle, trickle, keepalive = (int(x) for x in argv[:4])
    kinds = ["idle"] * idle + ["trickle"] * trickle + ["keepalive"] * keepalive
    Holder(port, kinds, float(argv[4]), float(argv[5])).run()
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--flood"]:  # the child process that Flood starts
        return flood_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--image", required=True, type=Path, help="a photo for /v1/classify")
    ap.add_argument("--idle", type=int, default=300)
    ap.add_argument("--trickle", type=int, default=300)
    ap.add_argument("--keepalive", type=int, default=100)
    ap.add_argument("--interval", type=float, default=5.0, help="s between a trickling socket's bytes")
    ap.add_argument("--seconds", type=float, default=20.0, help="probing time per flood")
    ap.add_argument("--servers", default="waitress-defaults,serve")
    args = ap.parse_args()
    body = args.image.read_bytes()
    floods = {f"{args.idle} idle": dict(idle=args.idle),
              f"{args.trickle} trickling": dict(trickle=args.trickle),
              f"{args.keepalive} keep-alive": dict(keepalive=args.keepalive),
              f"{args.idle} idle + {args.trickle} trickling": dict(idle=args.idle, trickle=args.trickle)}
    print(f"load before: {load_average()}")
    print("| server | held open | /healthz | within 1 s | p50 ms | max ms | classify ok | reopened |")
    print("|---|---|---|---|---|---|---|---|")
    for server in args.servers.split(","):
        proc, port = start_server(args.bundle, server)
        try:
            for name, kinds in floods.items():
                with Flood(port, interval=args.interval, seconds=args.seconds + 30, **kinds) as flood:
                    time.sleep(1.0)  # let the flood land
                    r = probe(port, body, args.seconds)
                    print(f"| {server} | {name} | {r['healthz']} | {r['within_1s']} | {r['p50_ms']:.1f} | "
                          f"{r['max_ms']:.1f} | {r['classify_ok']}/{r['classify']} | {flood.reopened} |",
                          flush=True)
                time.sleep(2.0)  # let the server drop the closed flood before the next one
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        if server == "serve":
            summary = [line.strip() for line in proc.log if "last " in line]
            print(f"serve's log: {len(proc.log)} lines; " + (summary[-1] if summary else "no summary line yet"))
    print(f"load after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
