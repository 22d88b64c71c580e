"""GET /console/: an operator console in the browser, over this service's own public API.

The console is static: an HTML shell and plain JavaScript modules that draw their charts as SVG in the
browser. Every figure it shows comes from the public API, called with the signed-in user's own token
(the built-in issuer's password login, or a pasted UAA token), so it sees exactly what that user may see
through the API and nothing more: the console has no endpoint of its own besides its files.

Every file is served from the package (no CDN, no network at run time), each at a fixed route listed in
ASSETS, as /docs serves Swagger UI's: so that the OpenAPI document can list them and no path argument
reaches the file system. A Content-Security-Policy of 'self' keeps it that way in the browser too.
"""
import functools
import hashlib
from importlib import resources

from flask import Blueprint, Response, request

bp = Blueprint("console", __name__, url_prefix="/console")

HTML = "text/html; charset=utf-8"
# Every file of static/ but the shell, and the type each is served as (tests/api/console/test_console.py checks the
# directory holds exactly these).
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "main.js": "text/javascript; charset=utf-8",
}
SHELL = "index.html"
# Modules may only come from here and talk to here; no inline script, no frame around the console.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Assets are revalidated by ETag on each load, so a new version is seen at once (they are small).
HEADERS = {"Content-Security-Policy": POLICY, "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


@functools.cache
def _file(name):
    """A static file's bytes, read once from the package (no file handle outlives a response)."""
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _serve(name, content_type):
    data = _file(name)
    response = Response(data, content_type=content_type, headers=HEADERS)
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return response.make_conditional(request)


@bp.get("/")
def console():
    """The console's HTML shell; everything else it needs is a file below /console/ or the public API."""
    return _serve(SHELL, HTML)


for _name, _type in ASSETS.items():
    bp.add_url_rule(f"/{_name}", "asset_" + _name.replace(".", "_"),
                    lambda name=_name, content_type=_type: _serve(name, content_type), methods=["GET"])
