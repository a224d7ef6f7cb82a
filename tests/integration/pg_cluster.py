"""A throwaway PostgreSQL cluster for tests (python3 stdlib only).

    with PgCluster() as pg:          # initdb + pg_ctl start, on loopback
        pg.url                       # postgres://fa@127.0.0.1:PORT/postgres
        pg.psql("SELECT 1")          # runs SQL with psql, returns stdout
        pg.restart()                 # a server restart under the tests
    # stopped (fast) and its folder removed

    sb = PgCluster.standby_of(pg)   # a streaming standby (pg_basebackup -R)
    sb.start(); sb.promote()        # ... promoted to primary

The cluster lives in a temporary folder, listens on 127.0.0.1 at a free
port and on a Unix socket in that folder, trusts local connections, and is
never a system cluster. PostgreSQL refuses to run as root: under root the
folder is handed to the `postgres` user (made by Debian's package) and the
server programs run as that user with runuser. The binaries are found in
$PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian's layout), else
on PATH.

available() says whether a cluster can be made here, and why not: a test
that needs one exits 77 (CTest's SKIP_RETURN_CODE) when it cannot.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

USER = "fa"
RUN_AS = "postgres"  # the account the server runs as when we are root


def _bin_dir():
    env = os.environ.get("PG_BIN")
    if env:
        return env
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if
                  d.split("/")[-2].isdigit() else 0)
    if dirs:
        return dirs[-1]
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def available():
    """(True, "") when a cluster can be made here, else (False, why)."""
    d = _bin_dir()
    if not d or not os.path.exists(os.path.join(d, "initdb")):
        return False, "no initdb (Debian package postgresql)"
    if not shutil.which("psql"):
        return False, "no psql (Debian package postgresql-client)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return False, f"running as root and there is no {RUN_AS} user"
        if not shutil.which("runuser"):
            return False, "running as root and there is no runuser"
    return True, ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, prefix="fa-pg-", init=True):
        ok, why = available()
        if not ok:
            raise RuntimeError("no PostgreSQL here: " + why)
        self.bin = _bin_dir()
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self.port = _free_port()
        self.url = f"postgres://{USER}@127.0.0.1:{self.port}/postgres"
        self.running = False
        if os.geteuid() == 0:
            # The folder and everything the server writes belong to it.
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", RUN_AS, "--"]
        else:
            self._as = []
        if init:
            self._run([os.path.join(self.bin, "initdb"), "-D", self.data,
                       "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"],
                      timeout=120)

    @classmethod
    def standby_of(cls, primary, prefix="fa-pg-standby-"):
        """A standby streaming from primary (running), not yet started:
        a base backup with -R writes standby.signal and the connection
        to the primary."""
        sb = cls(prefix=prefix, init=False)
        sb._run([os.path.join(sb.bin, "pg_basebackup"), "-D", sb.data,
                 "-h", "127.0.0.1", "-p", str(primary.port), "-U", USER,
                 "-R", "-X", "stream", "--no-sync"], timeout=120)
        return sb

    def conf(self, line):
        """Appends a line to postgresql.conf (takes effect at the next
        start, or after reload())."""
        self._run(["sh", "-c", f"echo \"$0\" >> {self.data}/postgresql.conf",
                   line])

    def reload(self):
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                   "reload"])

    def promote(self):
        """Makes a standby the primary (waits until it accepts writes)."""
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w",
                   "-t", "60", "promote"], timeout=90)

    def _run(self, argv, timeout=60):
        p = subprocess.run(self._as + argv, capture_output=True, text=True,
                           timeout=timeout, cwd=self.root,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}\n"
                               f"{p.stdout}{p.stderr}")
        return p.stdout

    def start(self):
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.root}")
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                   "-l", self.log, "-o", opts, "-w", "-t", "60", "start"],
                  timeout=90)
        self.running = True
        return self

    def stop(self, mode="fast"):
        if self.running:
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                       "-m", mode, "-w", "-t", "60", "stop"], timeout=90)
            self.running = False

    def restart(self):
        self.stop()
        self.start()

    def psql(self, sql):
        """Runs sql over TCP as the test user; returns psql's unaligned,
        tuples-only output."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1", "-d", self.url, "-c", sql],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError(f"psql: {p.stderr.strip()}")
        return p.stdout.strip()

    def close(self):
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
