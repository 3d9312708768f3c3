"""The HTTP service: `flower-edge serve BUNDLE` (Flask app served by waitress).

- `decode`: checks an uploaded image before decoding it (no Flask);
- `pool`: interpreters shared by request threads (no Flask);
- `app`: the routes, JSON errors, the token check and the web page in `static/`;
- `limits`, `connections`: what one client may hold, and waitress's server and channel made
  to enforce it (at the connection limit, close an idle or slow connection; deadlines per
  request; waitress's own errors as JSON);
- `server`: builds that server and says where it listens; `stats`: the log's line a minute.

Flask and waitress come from the `serve` extra and are imported only here.
"""
