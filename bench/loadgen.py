"""A small closed-loop HTTP load generator over loopback: threads with http.client connections.

Every loop is bounded by a request count and by a time limit. Connections are kept alive when the
server allows it (gunicorn's sync workers close after each response, so the client reconnects then).
"""
import http.client
import threading
import time


class Client:
    def __init__(self, host, port, token, timeout=120):
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = {"Authorization": f"bearer {token}", "Accept": "application/json"}
        self.conn = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None):
        """(status, body bytes); reconnects once when the server had closed the connection."""
        headers = self.headers
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def get(self, path):
        return self.request("GET", path)


class Outcome:
    """Latencies (seconds) of the successful requests, the failures, and the wall time of a run."""

    def __init__(self):
        self.latencies = []
        self.errors = 0
        self.first_error = None
        self.elapsed = 0.0
        self.units = 0  # what a request carried (events written), when that is not 1

    @property
    def count(self):
        return len(self.latencies)

    @property
    def rate(self):
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def unit_rate(self):
        return self.units / self.elapsed if self.elapsed else 0.0


def percentile(values, fraction):
    """Nearest-rank percentile of `values` (any order); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run(make_client, requests, concurrency, max_requests, max_seconds, expect=(200,), units_of=None):
    """Issue `requests` (a list of (method, path, body), taken round-robin) from `concurrency` threads.

    Stops after `max_requests` requests in all or `max_seconds`, whichever comes first.
    `units_of(method, path, body)` says how many units a successful request carried (default 1).
    """
    outcome = Outcome()
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.perf_counter() + max_seconds

    def worker():
        client = make_client()
        try:
            while time.perf_counter() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                method, path, body = requests[n % len(requests)]
                t0 = time.perf_counter()
                try:
                    status, data = client.request(method, path, body)
                except OSError as error:
                    status, data = None, str(error).encode()
                latency = time.perf_counter() - t0
                with lock:
                    if status in expect:
                        outcome.latencies.append(latency)
                        outcome.units += units_of(method, path, body) if units_of else 1
                    else:
                        outcome.errors += 1
                        if outcome.first_error is None:
                            outcome.first_error = f"{status}: {data[:300]!r}"
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 180)
    outcome.elapsed = time.perf_counter() - started
    return outcome
