"""Load-test `flower-edge serve` on loopback: requests/s, p50/p99 latency and errors at 1, 4
and 16 concurrent clients, against `Predictor.predict` over the same photos in one process.

The server is the real CLI in a subprocess bound to 127.0.0.1 (the script cannot
point anywhere else). Each level is bounded by --seconds and --max-requests. Clients
POST the photo bytes as the raw body over keep-alive connections. After each level
the server must still be alive and answer /healthz (crashes are counted).

    python benchmarks/bench_serve.py --bundle artifacts/mnv2-224/export/int8 \
        --images ../shared/data/flowers5-eval --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from pathlib import Path

import numpy as np
from common import load_average, photos

HOST = "127.0.0.1"


def predict_rate(bundle: str, paths: list[Path], seconds: float, threads) -> float:
    """Images/s of Predictor.predict(path) (decode + preprocess + infer) in this process."""
    from flower_edge.runtime.predictor import Predictor

    predictor = Predictor(bundle, threads=threads)
    predictor.predict(paths[0])
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        predictor.predict(paths[n % len(paths)], top_k=5)
        n += 1
    return n / (time.perf_counter() - t0)


def start_server(bundle: str, workers: int, threads, http_threads: int, server: str = "serve"):
    """`serve` with these workers and threads, or waitress with its default limits (as
    before the connection guard): bench_serve_flood's launcher, which reads the port."""
    from bench_serve_flood import start_server as start

    extra = ["--workers", workers, "--http-threads", http_threads, *(["--threads", threads] if threads else [])]
    return start(bundle, server, extra)


def client(port: int, bodies: list[tuple[str, bytes]], deadline: float, budget, out: list):
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    i = threading.get_ident()
    while time.perf_counter() < deadline and budget.take():
        name, body = bodies[i % len(bodies)]
        i += 7
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/classify", body=body,
                         headers={"Content-Type": "application/octet-stream", "X-Filename": name})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
        out.append((time.perf_counter() - t0, ok))
    conn.close()


class Budget:
    """A shared request count, so a level stops at --max-requests even before --seconds."""

    def __init__(self, n: int):
        self.n, self.lock = n, threading.Lock()

    def take(self) -> bool:
        with self.lock:
            self.n -= 1
            return self.n >= 0


def level(port: int, bodies, clients: int, seconds: float, max_requests: int) -> dict:
    out: list = []
    deadline = time.perf_counter() + seconds
    budget = Budget(max_requests)
    workers = [threading.Thread(target=client, args=(port, bodies, deadline, budget, out))
               for _ in range(clients)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    lat = np.array([t for t, ok in out if ok]) * 1000
    return {"clients": clients, "requests": len(out), "rps": len(lat) / wall,
            "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
            "errors": sum(not ok for _, ok in out)}


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--limit", type=int, default=200, help="photos (spread over the folder)")
    ap.add_argument("--seconds", type=float, default=60.0, help="per level (and for the predict baseline)")
    ap.add_argument("--max-requests", type=int, default=100_000, help="per level")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--workers", default="1,2", help="server interpreter pools to compare")
    ap.add_argument("--threads", type=int, default=None, help="threads per interpreter")
    ap.add_argument("--http-threads", type=int, default=8)
    ap.add_argument("--server", choices=["serve", "waitress-defaults"], default="serve",
                    help="waitress-defaults: the app on plain waitress (1 interpreter), for comparison")
    args = ap.parse_args()
    paths = photos(args.images, limit=args.limit)
    bodies = [(p.name, p.read_bytes()) for p in paths]
    print(f"{len(paths)} photos from {args.images.name}/, {args.seconds:.0f} s per level, "
          f"load before: {load_average()}")
    base = predict_rate(args.bundle, paths, args.seconds, args.threads)
    print(f"Predictor.predict in one process: {base:.1f} images/s")
    print("| workers | clients | requests | req/s | p50 ms | p99 ms | errors | crashes | vs predict |")
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for workers in (int(w) for w in args.workers.split(",")):
        proc, port = start_server(args.bundle, workers, args.threads, args.http_threads, args.server)
        try:
            for clients in (int(c) for c in args.clients.split(",")):
                r = level(port, bodies, clients, args.seconds, args.max_requests)
                crashed = proc.poll() is not None or not healthy(port)
                failed |= crashed or r["errors"] > 0
                print(f"| {workers} | {clients} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f} | "
                      f"{r['p99']:.1f} | {r['errors']} | {int(crashed)} | {r['rps'] / base:.2f}x |", flush=True)
                if crashed:
                    break
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"load after: {load_average()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
