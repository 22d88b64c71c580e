"""Discovery: GET / and GET /v2/info, public, so that cf tools and client libraries can log in."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, request

from ..responses import json_response

bp = Blueprint("discovery", __name__)

# The v2 API version cf tools compare against (cf CLI v6 reads /v2/events from 2.1.0 on).
API_VERSION = "2.164.0"


def _base_url():
    return request.url_root.rstrip("/")


def _login_url():
    """Where tokens come from: this service's own issuer, or the UAA configured in its place."""
    return current_app.config.get("UAA_URL") or _base_url()


@bp.get("/")
def root():
    base, login = _base_url(), _login_url()
    return json_response({"links": {
        "self": {"href": base},
        # Clients strip the trailing "/v2" to find the API base, so it must end exactly so.
        "cloud_controller_v2": {"href": f"{base}/v2", "meta": {"version": API_VERSION}},
        "login": {"href": login},
        "uaa": {"href": login},
    }})


@bp.get("/v2/info")
def info():
    host = urlsplit(_base_url()).hostname
    login = _login_url()
    return json_response({
        "name": "cf-events",
        "build": "",
        "support": "",
        "version": 0,
        "description": "Cloud Foundry audit and usage events",
        "authorization_endpoint": login,
        "token_endpoint": login,
        "min_cli_version": None,
        "min_recommended_cli_version": None,
        "api_version": API_VERSION,
        # cf-events serves neither logs nor ssh; cf CLI v6 fails on null endpoints, so these
        # name where a platform would serve them (configurable).
        "app_ssh_endpoint": current_app.config.get("APP_SSH_ENDPOINT") or f"ssh.{host}:2222",
        "app_ssh_host_key_fingerprint": None,
        "app_ssh_oauth_client": "ssh-proxy",
        "doppler_logging_endpoint": current_app.config.get("DOPPLER_LOGGING_ENDPOINT") or f"wss://doppler.{host}:443",
    })
