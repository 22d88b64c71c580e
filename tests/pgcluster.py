"""A throwaway PostgreSQL cluster for the test suite, started as an unprivileged user.

PostgreSQL refuses to run as root, so when the suite runs as root the cluster's files belong
to the `postgres` system user and its commands run through `runuser`.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

# Shared with bench/cluster.py, whose long-lived cluster starts the same way.
BINDIR_CANDIDATES = ["/usr/lib/postgresql/*/bin"]


class ClusterError(RuntimeError):
    pass


def bindir():
    for pattern in BINDIR_CANDIDATES:
        for path in sorted(glob.glob(pattern), reverse=True):
            if os.path.exists(os.path.join(path, "initdb")):
                return path
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise ClusterError("PostgreSQL binaries (initdb, pg_ctl) not found; install the postgresql package")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bindir = bindir()
        self.directory = tempfile.mkdtemp(prefix="cf-events-pg-")
        self.datadir = os.path.join(self.directory, "data")
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            try:
                account = pwd.getpwnam(self.user)
            except KeyError:
                raise ClusterError("running as root and there is no 'postgres' user to run PostgreSQL as") from None
            os.chown(self.directory, account.pw_uid, account.pw_gid)

    def _run(self, *command):
        command = [os.path.join(self.bindir, command[0]), *command[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self):
        self._run("initdb", "-D", self.datadir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        # Durability is worthless for a throwaway cluster; turning it off makes the suite fast.
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", self.datadir, "-o", options, "-l", os.path.join(self.directory, "log"), "-w", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self):
        try:
            self._run("pg_ctl", "-D", self.datadir, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
