"""Discovery: GET /, GET /v2/info, GET /v3 and GET /v3/info, public, so that cf tools and client libraries
can find the API and log in; and their OpenAPI description (add_discovery)."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app

from app.base import version

from .describe import BOOLEAN, INTEGER, NULL, PRETTY, PUBLIC, STRING, nullable, obj, ok
from .responses import json_response
from .urls import base_url

bp = Blueprint("discovery", __name__)

# The v2 API version cf tools compare against (cf CLI v6 reads /v2/events from 2.1.0 on).
API_VERSION = "2.164.0"
# The v3 version: cf CLI v8 warns below 3.99.0, v9 below 3.160.0; CC's own of 2026-08.
V3_API_VERSION = "3.228.0"
NAME, DESCRIPTION = "cf-events", "Cloud Foundry audit and usage events"
# What /v3 lists: the v3 resources this service serves, in CC's order.
V3_RESOURCES = ("app_usage_events", "apps", "audit_events", "info", "organizations", "roles", "service_usage_events",
                "spaces")


def _login_url():
    """Where tokens come from: this service's own issuer, or the UAA configured in its place."""
    return current_app.config.get("UAA_URL") or base_url()


def _configured(name):
    value = current_app.config.get(name)
    return {"href": value} if value else None


def _app_ssh_endpoint():
    # cf-events serves neither logs nor ssh; cf CLI v6 fails on null endpoints, so this names where a
    # platform would serve it (configurable).
    return current_app.config.get("APP_SSH_ENDPOINT") or f"ssh.{urlsplit(base_url()).hostname}:2222"


@bp.get("/")
def root():
    """CC's root, in CC's order; the v2 link comes last, and only while v2 is on."""
    base, login = base_url(), _login_url()
    links = {
        "self": {"href": base},
        # Clients strip the trailing "/v3" (or "/v2") to find the API base, so each must end exactly so.
        "cloud_controller_v3": {"href": f"{base}/v3", "meta": {"version": V3_API_VERSION}},
        "network_policy_v0": {"href": f"{base}/networking/v0/external"},
        "network_policy_v1": {"href": f"{base}/networking/v1/external"},
        "login": {"href": login},
        "uaa": {"href": login},
        "credhub": None,
        "routing": None,
        "logging": _configured("DOPPLER_LOGGING_ENDPOINT"),
        "log_cache": None,
        "log_stream": None,
        "app_ssh": {"href": _app_ssh_endpoint(), "meta": {"host_key_fingerprint": None, "oauth_client": "ssh-proxy"}},
    }
    if current_app.config["V2_API"]:
        links["cloud_controller_v2"] = {"href": f"{base}/v2", "meta": {"version": API_VERSION}}
    return json_response({"links": links})


@bp.get("/v2/info")
def info():
    login = _login_url()
    v2 = current_app.config["V2_API"]
    host = urlsplit(base_url()).hostname
    return json_response({
        "name": NAME,
        "build": version.build(),
        # As CC answers with v2 switched off (its other /v2 routes go on answering, and so do ours).
        "support": "" if v2 else "CF API v2 is disabled",
        "version": version.version_number(),
        "description": DESCRIPTION,
        "authorization_endpoint": login,
        "token_endpoint": login,
        "min_cli_version": None,
        "min_recommended_cli_version": None,
        "api_version": API_VERSION if v2 else "",
        "app_ssh_endpoint": _app_ssh_endpoint(),
        "app_ssh_host_key_fingerprint": None,
        "app_ssh_oauth_client": "ssh-proxy",
        "doppler_logging_endpoint": current_app.config.get("DOPPLER_LOGGING_ENDPOINT") or f"wss://doppler.{host}:443",
    })


@bp.get("/v3")
def v3_root():
    base = base_url()
    return json_response({"links": {"self": {"href": f"{base}/v3"},
                                    **{name: {"href": f"{base}/v3/{name}"} for name in V3_RESOURCES}}})


@bp.get("/v3/info")
def v3_info():
    """CC's /v3/info, in CC's key order (no cf CLI command reads it; scripts do)."""
    base = base_url()
    return json_response({
        "build": version.build(),
        "cli_version": {"minimum": "", "recommended": ""},
        "custom": {},
        "description": DESCRIPTION,
        "name": NAME,
        "version": version.version_number(),
        "osbapi_version": "2.15",  # CC's constant
        "rate_limits": {"enabled": False, "general_limit": "", "reset_interval_in_minutes": ""},
        "links": {"self": {"href": f"{base}/v3/info"}, "support": {"href": ""}},
    })


def add_discovery(ops, components):
    """These endpoints in the OpenAPI document (app/api/openapi.py assembles it)."""
    link = obj({"href": STRING})
    versioned = obj({"href": STRING, "meta": obj({"version": STRING})})
    root_links = obj({
        "self": link, "cloud_controller_v3": versioned, "network_policy_v0": link, "network_policy_v1": link,
        "login": link, "uaa": link, "credhub": NULL, "routing": NULL, "logging": nullable(link),
        "log_cache": NULL, "log_stream": NULL,
        "app_ssh": obj({"href": STRING, "meta": obj({"host_key_fingerprint": NULL, "oauth_client": STRING})}),
        "cloud_controller_v2": versioned,
    }, optional=("cloud_controller_v2",))
    ops.add("/", "get", "The API's root: its versions and where to log in", "discovery",
            ok("Links, in CC's order; cloud_controller_v2 only while V2_API is on",
               components.schema("Root", json_schema=obj({"links": root_links}))),
            security=PUBLIC, parameters=[PRETTY])
    v2_info = obj({"name": STRING, "build": STRING, "support": STRING, "version": INTEGER, "description": STRING,
                   "authorization_endpoint": STRING, "token_endpoint": STRING, "min_cli_version": NULL,
                   "min_recommended_cli_version": NULL, "api_version": STRING, "app_ssh_endpoint": STRING,
                   "app_ssh_host_key_fingerprint": NULL, "app_ssh_oauth_client": STRING,
                   "doppler_logging_endpoint": STRING})
    ops.add("/v2/info", "get", "v2's info: the API version and the login endpoints", "discovery",
            ok("As CC answers it", components.schema("V2Info", json_schema=v2_info)), security=PUBLIC,
            parameters=[PRETTY])
    v3_links = obj({"self": link, **{name: link for name in V3_RESOURCES}})
    ops.add("/v3", "get", "v3's root: the v3 resources served", "discovery",
            ok("Links to each resource", components.schema("V3Root", json_schema=obj({"links": v3_links}))),
            security=PUBLIC, parameters=[PRETTY])
    v3_info_schema = obj({"build": STRING, "cli_version": obj({"minimum": STRING, "recommended": STRING}),
                          "custom": obj({}), "description": STRING, "name": STRING, "version": INTEGER,
                          "osbapi_version": STRING,
                          "rate_limits": obj({"enabled": BOOLEAN, "general_limit": STRING,
                                              "reset_interval_in_minutes": STRING}),
                          "links": obj({"self": link, "support": link})})
    ops.add("/v3/info", "get", "v3's info", "discovery", ok("As CC answers it",
            components.schema("V3Info", json_schema=v3_info_schema)), security=PUBLIC, parameters=[PRETTY])
