"""`flower-edge serve`: the API on a real waitress server, real photos, bad requests, the token."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import assert_clean_error

pytest.importorskip("flask", reason='needs the serve extra: pip install "flower-edge[serve]"')
urllib3 = pytest.importorskip("urllib3")

MAX_BYTES = 1_000_000
MAX_PIXELS = 4_000_000


def start(bundle, token=None, workers=2):
    from flower_edge.serve.app import create_app
    from flower_edge.serve.pool import PredictorPool
    from flower_edge.serve.server import make_server

    pool = PredictorPool(bundle, workers=workers)
    app = create_app(pool, token=token, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    server = make_server(app, "127.0.0.1", 0, threads=8, max_bytes=MAX_BYTES)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


@pytest.fixture(scope="module")
def served(runtime_bundles):
    server, url = start(runtime_bundles["bundles"]["int8"])
    yield url, urllib3.PoolManager(maxsize=16, retries=False, timeout=30)
    server.close()


@pytest.fixture(scope="module")
def eval_photos() -> list[Path]:
    from conftest import shared_path

    root = shared_path("data", "flowers5-eval")
    return [p for d in sorted(root.iterdir()) if d.is_dir() for p in sorted(d.glob("*.jpg"))[:3]]


def post(http, url, body=None, name="photo.jpg", multipart=True, headers=None, query=""):
    if multipart:
        return http.request("POST", f"{url}/v1/classify{query}", fields={"image": (name, body, "image/jpeg")},
                            headers=headers)
    return http.request("POST", f"{url}/v1/classify{query}", body=body,
                        headers={"Content-Type": "application/octet-stream", "X-Filename": name, **(headers or {})})


def test_classify_gives_predicts_answer_on_real_photos(served, eval_photos, runtime_bundles, invoke):
    url, http = served
    result = invoke("predict", runtime_bundles["bundles"]["int8"], *eval_photos, "--json")
    expected = {Path(p["path"]).name: p for p in json.loads(result.output)["predictions"]}
    for i, photo in enumerate(eval_photos):
        r = post(http, url, photo.read_bytes(), photo.name, multipart=i % 2 == 0)
        assert r.status == 200, r.data
        got = r.json()
        want = expected[photo.name]
        assert got["path"] == photo.name
        assert got["label"] == want["label"]
        assert got["probability"] == pytest.approx(want["probability"], abs=1e-6)
        assert [t["label"] for t in got["top_k"]] == [t["label"] for t in want["top_k"]]
        assert got["time_ms"] > 0
    assert len(post(http, url, eval_photos[0].read_bytes(), query="?top_k=2").json()["top_k"]) == 2


def test_model_and_healthz(served, runtime_bundles):
    url, http = served
    info = http.request("GET", f"{url}/v1/model").json()
    assert info["labels"] == runtime_bundles["classes"]
    assert info["variant"] == "int8" and info["interpreter"] == "ai-edge-litert"
    assert info["manifest"]["files"]["model"]["bytes"] == info["model_bytes"] > 0
    assert http.request("GET", f"{url}/healthz").json()["status"] == "ok"
    page = http.request("GET", f"{url}/").data.decode()
    assert 'capture="environment"' in page and "http" not in page.replace("http-equiv", "")  # no CDN
    assert http.request("GET", f"{url}/static/app.js").status == 200


def _png(size, mode="RGB") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def bad_requests(photo: bytes):
    yield "not an image", dict(body=b"this is not a picture"), 415
    yield "truncated jpeg", dict(body=photo[: len(photo) // 2]), 400
    yield "decompression bomb", dict(body=_png((8000, 8000), "1")), 413   # 64 MP in a few kB
    yield "1x1 image", dict(body=_png((1, 1))), 422
    yield "empty raw body", dict(body=b"", multipart=False), 400
    yield "body over the cap", dict(body=os.urandom(MAX_BYTES + 10), multipart=False), 413
    yield "bad top_k", dict(body=photo, query="?top_k=zero"), 400
    yield "top_k in superscript digits", dict(body=photo, query="?top_k=%C2%B2"), 400
    yield "top_k past int()'s digit limit", dict(body=photo, query="?top_k=" + "9" * 5000), 400


def test_bad_requests_get_4xx_json_and_the_server_keeps_serving(served, eval_photos):
    url, http = served
    photo = eval_photos[0].read_bytes()
    assert len(_png((8000, 8000), "1")) < 100_000
    for what, kwargs, status in bad_requests(photo):
        r = post(http, url, **kwargs)
        assert r.status == status, (what, r.status, r.data[:200])
        error = r.json()["error"]
        assert error and "\n" not in error and "Traceback" not in error, what
        assert http.request("GET", f"{url}/healthz").status == 200, what
    r = http.request("POST", f"{url}/v1/classify", fields={"other": "text"})
    assert r.status == 400 and "multipart field 'image'" in r.json()["error"]
    assert http.request("GET", f"{url}/v1/classify").status == 405
    assert post(http, url, photo).status == 200  # still classifying


def test_token_is_required_on_the_api(runtime_bundles, eval_photos):
    server, url = start(runtime_bundles["bundles"]["int8"], token="s3cret", workers=1)
    http = urllib3.PoolManager(retries=False, timeout=30)
    try:
        photo = eval_photos[0].read_bytes()
        assert post(http, url, photo).status == 401
        assert post(http, url, photo, headers={"X-Token": "wrong"}).status == 401
        assert http.request("GET", f"{url}/v1/model").status == 401
        assert post(http, url, photo, headers={"X-Token": "s3cret"}).status == 200
        assert post(http, url, photo, headers={"Authorization": "Bearer s3cret"}).status == 200
        assert http.request("GET", f"{url}/healthz").status == 200
    finally:
        server.close()


def test_concurrent_requests_share_the_interpreters(served, eval_photos):
    url, http = served
    photos = [p.read_bytes() for p in eval_photos]
    serial = [post(http, url, b).json()["label"] for b in photos]
    with ThreadPoolExecutor(16) as ex:
        results = list(ex.map(lambda i: post(http, url, photos[i % len(photos)]), range(96)))
    assert [r.status for r in results] == [200] * 96
    assert [r.json()["label"] for r in results] == [serial[i % len(photos)] for i in range(96)]


def test_serve_cli_binds_localhost_says_so_and_stops_on_ctrl_c(runtime_bundles):
    cmd = [sys.executable, "-m", "flower_edge.cli.main", "serve", str(runtime_bundles["bundles"]["fp32"]),
           "--port", "0"]
    # A suite started in the background inherits SIGINT ignored; the child must see Ctrl-C.
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/ \(this machine only", line)
        assert match, line
        http = urllib3.PoolManager(retries=False, timeout=30)
        assert http.request("GET", f"http://127.0.0.1:{match.group(1)}/healthz").status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_missing_serve_extra_names_the_pip_command(runtime_bundles, invoke, monkeypatch):
    monkeypatch.setitem(sys.modules, "waitress", None)  # import waitress -> ImportError
    result = invoke("serve", runtime_bundles["bundles"]["int8"])
    assert_clean_error(result, contains='pip install "flower-edge[serve]"')


def test_serve_and_live_import_no_tensorflow(runtime_bundles, eval_photos):
    from test_core import BLOCK_TF

    code = BLOCK_TF + (
        "import flower_edge.cli.live_cmd, flower_edge.cli.serve_cmd, flower_edge.runtime.live\n"
        "from flower_edge.serve.app import create_app\nfrom flower_edge.serve.pool import PredictorPool\n"
        f"app = create_app(PredictorPool({str(runtime_bundles['bundles']['int8'])!r}))\n"
        f"r = app.test_client().post('/v1/classify', data=open({str(eval_photos[0])!r}, 'rb').read())\n"
        "assert r.status_code == 200, r.data\n"
        "assert 'tensorflow' not in sys.modules\nprint('TF-FREE')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "TF-FREE" in out.stdout, out.stderr


def test_a_phone_photo_stored_rotated_is_classified_upright(served, eval_photos, runtime_bundles, tmp_path):
    from PIL import Image

    from flower_edge.runtime.predictor import Predictor

    url, http = served
    predictor = Predictor(runtime_bundles["bundles"]["int8"])
    photo = max(eval_photos, key=lambda p: predictor.predict(p, top_k=1)[0][1])  # the most confident
    rotated = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view", as phones save portrait shots
    Image.open(photo).transpose(Image.Transpose.ROTATE_90).save(rotated, quality=95, exif=exif)
    got = post(http, url, rotated.read_bytes(), "phone.jpg").json()
    assert got["label"] == predictor.predict(photo, top_k=1)[0][0]
    assert got["probability"] == pytest.approx(predictor.predict(rotated, top_k=1)[0][1], abs=1e-6)


def raw_exchange(url: str, payload: bytes, timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send bytes as they are (bad framing included) and read one HTTP answer."""
    import http.client
    import socket

    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def assert_json_error(status, headers, body, want: int) -> str:
    assert status == want, (status, body[:200])
    assert headers["Content-Type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error and "\n" not in error
    return error


def test_the_servers_own_errors_are_json_too(served):
    url, http = served
    head = "POST /v1/classify HTTP/1.1\r\nHost: x\r\n"
    answer = raw_exchange(url, f"{head}Content-Length: abc\r\n\r\n".encode())
    assert_json_error(*answer, 400)
    answer = raw_exchange(url, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 300_000}\r\n\r\n".encode())
    assert "headers" in assert_json_error(*answer, 431)
    chunk = b"%x\r\n%s\r\n" % (MAX_BYTES + 10, b"a" * (MAX_BYTES + 10))
    answer = raw_exchange(url, f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunk + b"0\r\n\r\n")
    assert "--max-mb" in assert_json_error(*answer, 413)
    assert http.request("GET", f"{url}/healthz").status == 200


def test_an_oversized_upload_gets_a_413_answer_not_a_broken_pipe(served):
    import http.client

    url, _ = served
    conn = http.client.HTTPConnection(url.split("//")[1], timeout=30)
    conn.request("POST", "/v1/classify", body=b"\0" * 25_000_000,   # the client sends it all first
                 headers={"Content-Type": "application/octet-stream"})
    response = conn.getresponse()
    headers = dict(response.getheaders())
    assert "server's limit of 1.0 MB" in assert_json_error(response.status, headers, response.read(), 413)


def test_a_request_that_does_not_arrive_in_time_gets_a_408(runtime_bundles):
    import socket

    from flower_edge.serve.app import create_app
    from flower_edge.serve.limits import Limits
    from flower_edge.serve.pool import PredictorPool
    from flower_edge.serve.server import make_server

    app = create_app(PredictorPool(runtime_bundles["bundles"]["int8"]))
    server = make_server(app, "127.0.0.1", 0, limits=Limits(header_timeout=1, idle_timeout=2))
    threading.Thread(target=server.run, daemon=True).start()
    try:
        slow = socket.create_connection(("127.0.0.1", server.effective_port), timeout=10)
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        idle = socket.create_connection(("127.0.0.1", server.effective_port), timeout=10)
        t0 = time.monotonic()
        answer = slow.makefile("rb").read()
        assert b"408 Request Timeout" in answer and b"--header-timeout" in answer, answer
        assert 1 <= time.monotonic() - t0 < 5
        assert idle.recv(10) == b""    # closed quietly after --idle-timeout
        assert 2 <= time.monotonic() - t0 < 6
    finally:
        server.close()


@pytest.mark.parametrize("how", [["--token", ""], ["--token", "  "], "env"])
def test_an_empty_token_is_refused_at_start(how, invoke, monkeypatch, tmp_path):
    if how == "env":
        monkeypatch.setenv("FLOWER_EDGE_TOKEN", "")
        how = []
    # checked before the bundle loads (a server that started would not return here)
    result = invoke("serve", tmp_path / "no-bundle", "--port", "0", *how)
    assert_clean_error(result, code=2, contains="token is empty")


@pytest.mark.parametrize("host, shown", [("127.0.0.2", "http://127.0.0.2:"), ("::1", "http://[::1]:")])
def test_the_address_printed_is_the_one_bound(host, shown, runtime_bundles):
    from flower_edge.serve.app import create_app
    from flower_edge.serve.pool import PredictorPool
    from flower_edge.serve.server import make_server, start_message

    app = create_app(PredictorPool(runtime_bundles["bundles"]["int8"]))
    try:
        server = make_server(app, host, 0)
    except Exception as exc:  # no IPv6 on this machine
        pytest.skip(f"cannot bind {host}: {exc}")
    try:
        message = start_message(server, host, token=False)
        assert f"{shown}{server.effective_port}/ (this machine only" in message, message
    finally:
        server.close()


def test_the_log_is_one_summary_line_not_a_line_per_request(runtime_bundles, eval_photos, caplog):
    from flower_edge.serve.app import create_app
    from flower_edge.serve.pool import PredictorPool
    from flower_edge.serve.server import make_server
    from flower_edge.serve.stats import ServeStats, report_every

    stats = ServeStats()
    app = create_app(PredictorPool(runtime_bundles["bundles"]["int8"]), max_bytes=MAX_BYTES)
    server = make_server(app, "127.0.0.1", 0, threads=2, max_bytes=MAX_BYTES, stats=stats)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    http = urllib3.PoolManager(maxsize=16, retries=False, timeout=30)
    photo = eval_photos[0].read_bytes()
    try:
        with ThreadPoolExecutor(16) as ex:  # 16 clients, 2 request threads: requests queue up
            statuses = list(ex.map(lambda i: post(http, url, photo if i % 4 else b"junk").status, range(64)))
        assert statuses.count(200) == 48 and statuses.count(415) == 16
        assert not [r for r in caplog.records if r.name.startswith("waitress")]
        lines: list[str] = []
        report_every(stats, lambda: len(server.active_channels), lines.append, every=0.2)
        deadline = time.monotonic() + 10
        while not lines and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(lines) == 1, lines
        assert "64 requests (48 2xx, 16 4xx)" in lines[0] and "waiting for a request thread" in lines[0], lines
    finally:
        server.close()
