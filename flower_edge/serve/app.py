"""The Flask app: POST /v1/classify, GET /v1/model, GET /healthz and the web page at /.

Every error is JSON, `{"error": "<one line>"}`, with a 4xx status for a bad request,
so a client (or the page) can show it and the server goes on serving.
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path

from flower_edge.errors import FlowerEdgeError, one_line

SERVE_INSTALL = 'pip install "flower-edge[serve]"'
STATIC = Path(__file__).with_name("static")
DEFAULT_MAX_BYTES = 20_000_000   # a 12-50 MP phone JPEG is 3-15 MB (decimal MB, as everywhere)
DEFAULT_MAX_PIXELS = 50_000_000        # a 50 MP phone photo; a bomb claims far more


def too_large_message(max_bytes: int) -> str:
    """The 413 message, from the app or from waitress (connections.JsonErrorTask)."""
    return (f"request body over this server's limit of {max_bytes / 1e6:.1f} MB; "
            f"send a smaller photo or raise --max-mb")


def require_flask():
    """Import Flask, or a one-line error naming the extra."""
    try:
        import flask
        import waitress  # noqa: F401  (checked here so `serve` fails before loading a model)
    except ImportError as exc:
        raise FlowerEdgeError(f"flower-edge serve needs Flask and waitress ({exc.name} is missing): "
                              f"{SERVE_INSTALL}") from None
    return flask


def model_info(pool) -> dict:
    """What GET /v1/model returns: the manifest, labels and interpreter."""
    predictor = pool.first
    bundle = predictor.bundle
    return {"name": bundle.manifest.get("architecture", bundle.dir.name), "variant": bundle.variant,
            "bundle": bundle.dir.name, "model_bytes": bundle.model_path.stat().st_size,
            "image_size": list(bundle.image_size), "labels": bundle.labels,
            "interpreter": predictor.interpreter_name, "threads": predictor.threads,
            "workers": pool.workers, "manifest": bundle.manifest}


def create_app(pool, token: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS, top_k: int = 5):
    """The WSGI app over a PredictorPool. `token`: required in X-Token or Authorization: Bearer."""
    flask = require_flask()
    import warnings

    from PIL import Image

    # decode_upload enforces its own, lower pixel limit as a 413; Pillow's warning would only be noise.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

    app = flask.Flask("flower_edge.serve", static_folder=str(STATIC), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = max_bytes
    app.json.sort_keys = False
    stats = {"started": time.time(), "requests": 0}
    info = model_info(pool)

    def error(status: int, message: str):
        return flask.jsonify({"error": one_line(message)}), status

    _install_guards(app, flask, error, token, max_bytes, stats)

    @app.get("/")
    def page():
        return flask.send_from_directory(STATIC, "index.html")

    @app.get("/healthz")
    def healthz():
        return flask.jsonify({"status": "ok", "model": info["name"], "variant": info["variant"],
                              "uptime_s": round(time.time() - stats["started"], 1),
                              "requests": stats["requests"]})

    @app.get("/v1/model")
    def model():
        return flask.jsonify(info)

    @app.post("/v1/classify")
    def classify():
        return _classify(flask, pool, error, max_pixels, top_k)

    return app


def _install_guards(app, flask, error, token: str | None, max_bytes: int, stats: dict) -> None:
    """JSON errors for every failure, and the token check on /v1/."""
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 413:
            return error(413, too_large_message(max_bytes))
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc):  # a bug must not take the server down or leak a traceback to clients
        app.logger.exception("unexpected error")
        return error(500, f"internal error ({type(exc).__name__}); see the server's log")

    def authorised() -> bool:
        if not token:
            return True
        given = flask.request.headers.get("X-Token", "")
        auth = flask.request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[len("Bearer "):]
        return hmac.compare_digest(given.encode(), token.encode())

    @app.before_request
    def check_token():
        stats["requests"] += 1
        if flask.request.path.startswith("/v1/") and not authorised():
            return error(401, "missing or wrong token; send it as header 'X-Token: TOKEN' "
                              "(or 'Authorization: Bearer TOKEN')")
        return None


def _classify(flask, pool, error, max_pixels: int, default_k: int):
    from flower_edge.runtime.files import Prediction
    from flower_edge.serve.decode import Rejected, decode_upload
    from flower_edge.serve.pool import Busy

    request = flask.request
    k = request.args.get("top_k", default_k)
    # isdecimal() alone accepts other scripts' digits, which int() may still refuse
    if not (str(k).isascii() and str(k).isdecimal()) or len(str(k)) > 6 or int(k) < 1:
        return error(400, f"top_k must be a whole number >= 1, got {k!r}")
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("image") or next(iter(request.files.values()), None)
        if upload is None:
            return error(400, "no file in the form; send the image as multipart field 'image'")
        data, name = upload.read(), upload.filename or "upload"
    else:
        data, name = request.get_data(cache=False), request.headers.get("X-Filename", "upload")
    t0 = time.perf_counter()
    try:
        pixels = decode_upload(data, name, pool.first.image_size, max_pixels, pool.first.draft)
        with pool.borrow() as predictor:
            top = predictor.predict(pixels, top_k=int(k))
    except Rejected as exc:
        return error(exc.status, str(exc))
    except Busy as exc:
        return error(503, str(exc))
    record = Prediction(name, tuple(top)).to_dict()
    record["time_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
    return flask.jsonify(record)
