"""The HTTP service: `flower-edge serve BUNDLE` (Flask app served by waitress).

- `decode`: checks an uploaded image before decoding it (no Flask);
- `pool`: interpreters shared by request threads (no Flask);
- `app`: the routes, JSON errors, the token check and the web page in `static/`.

Flask and waitress come from the `serve` extra and are imported only here.
"""
