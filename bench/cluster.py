"""The benchmark's own PostgreSQL cluster, kept in bench/data/ between runs.

It is started on a free port at the start of a run and stopped at its end. Loading runs with
durability off and `wal_level=minimal` (COPY into a table truncated in the same transaction then
writes no WAL); measuring runs with production durability (fsync and synchronous commit on), since
the write measurements are about what a commit costs. PostgreSQL refuses to run as root, so as
root the cluster's files belong to the `postgres` user and its commands run through `runuser`
(as tests/pgcluster.py does). Each scale gets its own database (cf_events_bench_1m, _10m), so a
10 M data set does not push out the 1 M one; the follow measurement adds its upstream's (the 1 M one, or
a small one for --quick) and a scratch copy it drops.
"""
import os
import pwd
import shutil
import subprocess

from tests.pgcluster import ClusterError, bindir, free_port

# BENCH_DATA moves the cluster elsewhere: two benchmarks that run at once each need their own.
DATA_ROOT = os.environ.get("BENCH_DATA") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# Settings in force while measuring: the service's production durability, memory sized for a small
# server (the data set is larger than shared_buffers at 10 M rows, as it would be in production).
MEASURE_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    "shared_buffers": "1GB",
    "effective_cache_size": "4GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "512MB",
    "random_page_cost": "1.1",
    "max_wal_size": "4GB",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    # Diagnostics in bench/data/postgres.log: lock waits over deadlock_timeout (1 s), statements over 1 s.
    "log_lock_waits": "on",
    "log_min_duration_statement": "1000",
}
# Settings while loading: nothing here needs to survive a crash (a crashed load is loaded again).
LOAD_SETTINGS = {
    **MEASURE_SETTINGS,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "maintenance_work_mem": "2GB",
    "max_parallel_maintenance_workers": "2",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "1h",
    "autovacuum": "off",
}


class Cluster:
    def __init__(self, root=DATA_ROOT, database="postgres"):
        self.database = database
        self.bindir = bindir()
        self.root = root
        self.datadir = os.path.join(root, "pg")
        self.socketdir = os.path.join(root, "sock")
        self.logfile = os.path.join(root, "postgres.log")
        self.port = None
        self.mode = None
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            try:
                self.account = pwd.getpwnam(self.user)
            except KeyError:
                raise ClusterError("running as root and there is no 'postgres' user to run PostgreSQL as") from None

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def url_for(self, database):
        """The URL of another database of the running cluster (the follow's upstream and copy), made if missing."""
        self._ensure_database(database)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement, parameters=()):
        import psycopg2

        conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement, parameters)
                return cur.fetchone() if cur.description else None
        finally:
            conn.close()

    def _ensure_database(self, database=None):
        """Each scale has its own database in the cluster, so that both can be kept."""
        database = database or self.database
        if self._admin("SELECT 1 FROM pg_database WHERE datname = %s", (database,)) is None:
            self._admin(f'CREATE DATABASE "{database}"')

    def drop_database(self, database):
        self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def _run(self, *command, check=True):
        command = [os.path.join(self.bindir, command[0]), *command[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def _own(self, path):
        if self.user:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    @property
    def initialised(self):
        return os.path.exists(os.path.join(self.datadir, "PG_VERSION"))

    def init(self):
        """Create the cluster's directory and data directory (once; later runs reuse it)."""
        for path in (self.root, self.socketdir):
            os.makedirs(path, exist_ok=True)
            self._own(path)
        if not self.initialised:
            if os.path.exists(self.datadir):
                shutil.rmtree(self.datadir)
            self._run("initdb", "-D", self.datadir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def running(self):
        return self._run("pg_ctl", "-D", self.datadir, "status", check=False).returncode == 0

    def start(self, mode="measure"):
        """Start on a free port with the settings of `mode` ("load" or "measure")."""
        self.init()
        if self.running():
            # Left running by an interrupted earlier run of the benchmark: stop it cleanly first.
            self._run("pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "stop")
        self.port = free_port()
        settings = LOAD_SETTINGS if mode == "load" else MEASURE_SETTINGS
        options = f"-p {self.port} -k {self.socketdir} " + " ".join(f"-c {k}={v}" for k, v in settings.items())
        self._run("pg_ctl", "-D", self.datadir, "-o", options, "-l", self.logfile, "-w", "-t", "300", "start")
        self.mode = mode
        self._ensure_database()
        return self.url

    def restart(self, mode):
        self.stop()
        return self.start(mode)

    def stop(self):
        if self.port is not None:
            self._run("pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "-t", "300", "stop", check=False)
            self.port = None
            self.mode = None
