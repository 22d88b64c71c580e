"""The service's own address as its clients reach it, for the absolute links of v3 and discovery."""
from flask import current_app, g, request
from werkzeug.middleware.proxy_fix import ProxyFix


def base_url():
    """EXTERNAL_URL when set; else the request's scheme and host (as the trusted proxies say, if any).

    Worked out once a request: every resource of a page links to itself.
    """
    if "base_url" not in g:
        g.base_url = current_app.config.get("EXTERNAL_URL") or request.host_url.rstrip("/")
    return g.base_url


def init_app(app):
    # X-Forwarded-* are believed only from as many proxies as are configured in front (nginx: one).
    trusted = app.config.get("TRUSTED_PROXIES", 0)
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted, x_port=trusted)
