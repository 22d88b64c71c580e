"""An upstream Cloud Controller, as the follower talks to it: discovery, a client's token, and GETs that
are retried when they may succeed later and stop with one clear line when they never will."""
import base64
import json
import random
import threading
import time
from urllib.parse import urljoin, urlsplit

import requests

# A token is refreshed this long before it expires, so that no request goes out with a dying one.
REFRESH_MARGIN = 60
TIMEOUT = (10, 120)  # connect, read: a 5000-event page of a busy CC takes a while
MAX_BACKOFF = 60.0
USER_AGENT = "cf-events-follower"


class Fatal(Exception):
    """What retrying cannot mend (bad credentials, a missing scope, a URL that is no Cloud Foundry API):
    the follower stops and prints this, which says what to fix."""


class CursorGone(Exception):
    """The upstream no longer knows the after_guid asked for: its stream was purged and reseeded."""


class Stopped(Exception):
    """A GET's caller no longer wants its answer (a prefetch the follower abandoned): no more tries."""


class Upstream:
    """One upstream API, and the client credentials the follower reads it with."""

    def __init__(self, api, client_id, client_secret, retries=None, sleep=None, log=None):
        self.api = api.rstrip("/")
        if urlsplit(self.api).scheme not in ("http", "https") or not urlsplit(self.api).netloc:
            raise Fatal(f"--api must be the URL of a Cloud Foundry API (https://api.example.com), not {api!r}")
        self.client_id, self.client_secret = client_id, client_secret
        self.retries = retries  # None: retry for ever (the long-running mode)
        # sleep: a stand-in for the waits between tries (tests); None waits, cut short by a GET's stop.
        self.sleep, self.log = sleep, log or (lambda message: None)
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        self.token = None
        self.expires_at = 0
        self.refreshes = 0
        # The follower fetches one page at a time, but from a thread of its own (follower.Prefetch): the token
        # is read and refreshed under a lock all the same, so that no two requests ever refresh it at once.
        self.token_lock = threading.Lock()

    # --- discovery and the token ----------------------------------------------------------------------
    def discover(self):
        """The root's links: the token endpoint, and which dialects the upstream serves."""
        root = self._send("GET", self.api + "/", authenticated=False)
        try:
            links = root.json()["links"]
        except (ValueError, KeyError, TypeError):
            raise Fatal(f"{self.api} is not a Cloud Foundry API: GET / has no links") from None
        login = (links.get("uaa") or links.get("login") or {}).get("href")
        if not login:
            raise Fatal(f"{self.api} names no UAA in GET /: cannot get a token")
        self.token_url = login.rstrip("/") + "/oauth/token"
        self.dialects = [name for name, key in (("v3", "cloud_controller_v3"), ("v2", "cloud_controller_v2"))
                         if links.get(key)]
        if not self.dialects:
            raise Fatal(f"{self.api} serves neither v3 nor v2 (GET / links no cloud_controller_v3 or _v2)")
        return links

    def _refresh_token(self):
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        response = self._send("POST", self.token_url, authenticated=False, data={"grant_type": "client_credentials"},
                              headers={"Authorization": f"Basic {basic}"})
        if response.status_code in (400, 401, 403):
            raise Fatal(f"the UAA at {self.token_url} refused client {self.client_id!r} "
                        f"({response.status_code}): check --client-id and --client-secret")
        body = response.json()
        self.token = body["access_token"]
        self.expires_at = time.time() + float(body.get("expires_in", 0) or _expiry_in(self.token))
        self.refreshes += 1

    def _authorization(self):
        with self.token_lock:
            if self.token is None or self.expires_at - time.time() < REFRESH_MARGIN:
                self._refresh_token()
            return {"Authorization": f"bearer {self.token}"}

    # --- requests -------------------------------------------------------------------------------------
    def get(self, path_or_url, stop=None):
        """The JSON body of an authenticated GET (a path under the API, or a paging link's URL). Once `stop` (a
        threading.Event) is set, no more tries: Stopped."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.api + path_or_url
        response = self._send("GET", url, authenticated=True, stop=stop)
        if response.status_code == 401:
            # Revoked or expired early: one fresh token, and the same request again.
            with self.token_lock:
                self.token = None
            response = self._send("GET", url, authenticated=True, stop=stop)
            if response.status_code == 401:
                raise Fatal(f"{url} refuses a fresh token of client {self.client_id!r} (401)")
        if response.status_code == 403:
            raise Fatal(f"client {self.client_id!r} may not read {urlsplit(url).path}: give it "
                        "cloud_controller.admin_read_only or cloud_controller.global_auditor")
        if response.status_code in (400, 422) and "after_guid" in url:
            raise CursorGone(url)
        if response.status_code == 404:
            raise Fatal(f"{url}: 404 (is {self.api} a Cloud Foundry API of this version?)")
        if response.status_code != 200:
            raise Fatal(f"{url}: {response.status_code} {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise Fatal(f"{url} did not answer JSON") from None

    def _send(self, method, url, authenticated, headers=None, stop=None, **kwargs):
        """The response, after as many tries as 429s, 5xx, timeouts and failed connections take (with
        exponential back-off and jitter); a Fatal for what trying again cannot change."""
        attempt = 0
        while True:
            attempt += 1
            if stop is not None and stop.is_set():
                raise Stopped(url)
            try:
                all_headers = {**(self._authorization() if authenticated else {}), **(headers or {})}
                response = self.session.request(method, url, headers=all_headers, timeout=TIMEOUT,
                                                allow_redirects=False, **kwargs)
            except requests.exceptions.InvalidURL as error:
                raise Fatal(f"{url} is not a valid URL: {error}") from None
            except requests.exceptions.RequestException as error:
                reason = f"{type(error).__name__}"
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                reason = f"{response.status_code}"
            if self.retries is not None and attempt > self.retries:
                raise Fatal(f"{method} {url} still fails after {attempt} tries ({reason})")
            delay = min(MAX_BACKOFF, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            self.log(f"{method} {urlsplit(url).path}: {reason}; trying again in {delay:.1f} s")
            if self.sleep is not None:
                self.sleep(delay)
            elif stop is not None:
                stop.wait(delay)  # cut short when the caller stops waiting for it
            else:
                time.sleep(delay)


def _expiry_in(token):
    """Seconds until a JWT's exp, read without verifying it (only to know when to refresh)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return max(0.0, float(claims["exp"]) - time.time())
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0


def absolute(base, link):
    """A paging link as an absolute URL (v2's are paths under the API)."""
    return link if link.startswith(("http://", "https://")) else urljoin(base + "/", link.lstrip("/"))
