"""The service under gunicorn, as production runs it, started and stopped by the benchmark."""
import os
import signal
import subprocess
import sys
import tempfile
import time

from .cluster import free_port
from .loadgen import Client

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def recommended_workers(cores):
    """gunicorn's documented starting point: (2 x cores) + 1 sync workers."""
    return 2 * cores + 1


def _gunicorn():
    beside = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    if os.path.exists(beside):
        return beside
    return os.path.join(PROJECT, ".venv", "bin", "gunicorn")


class Service:
    def __init__(self, database_url, secret, workers):
        self.database_url = database_url
        self.secret = secret
        self.workers = workers
        self.port = None
        self.process = None
        self.logfile = None

    def start(self, token, timeout=60):
        self.port = free_port()
        self.logfile = tempfile.NamedTemporaryFile(prefix="cf-events-bench-gunicorn-", suffix=".log", delete=False)
        # No fold after usage writes: the v2/v3 data sets' streams were never folded, and the first write
        # would start folding ten million events. bench/usage.py measures the fold's cost side by side.
        env = {**os.environ, "DATABASE_URL": self.database_url, "TOKEN_SECRET": self.secret,
               "USAGE_FOLD_ON_WRITE": "off"}
        command = [_gunicorn(), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}", "wsgi:app"]
        self.process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=self.logfile, stderr=subprocess.STDOUT)
        client = Client("127.0.0.1", self.port, token, timeout=5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = client.get("/v2/info")
                if status == 200:
                    return self.port
            except OSError:
                pass
            finally:
                client.close()
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines=40):
        if not self.logfile:
            return ""
        with open(self.logfile.name, errors="replace") as log:
            return "".join(log.readlines()[-lines:])

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        if self.logfile is not None:
            self.logfile.close()
            os.unlink(self.logfile.name)
            self.logfile = None
