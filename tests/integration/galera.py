"""A MariaDB Galera cluster on loopback for the integration tests.

    cluster = GaleraCluster(3).start(f"{base}/galera")   # bootstraps node 0
    cluster.nodes[0].create_database("P1", user, password)
    cluster.nodes[1].kill()                               # SIGKILL
    cluster.restart(1)                                    # rejoins (IST or SST)
    cluster.wait_synced()                                 # every live node Synced

Each node is a lib.MariaDB (its own data directory from the template, its
own SQL port) started with Debian's galera-4 provider and its own group
communication, IST and SST ports on 127.0.0.1, all free ports >= 1024. Full
state transfers use rsync, whose daemon drops root for "nobody": so the
nodes run as the mysql user (made by Debian's mariadb-server package), their
data directories given to it. Like every lib.MariaDB, the nodes run on the
real clock even when the test runs under libfaketime: only brokers and
simulators see the accelerated clock.
"""

import os
import subprocess

import lib
from lib import free_port, real_time

PROVIDER = "/usr/lib/galera/libgalera_smm.so"

# Failure detection a little quicker than Galera's defaults (5 s suspect,
# 15 s inactive), so that a killed node leaves the view within seconds;
# still far above loopback's delays.
EVS = "evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.inactive_check_period=PT0.5S"


class GaleraNode(lib.MariaDB):
    """One node: a lib.MariaDB with its wsrep ports fixed once."""

    USER = "mysql"

    def __init__(self, index, name):
        super().__init__()
        self.index = index
        self.name = name
        self.port = free_port()
        self.gcomm_port = free_port()
        self.ist_port = free_port()
        self.sst_port = free_port()

    def __repr__(self):
        return f"GaleraNode({self.name}, sql {self.port}, pid {self.proc.pid if self.proc else None})"

    def start(self, basedir, port=None, timeout=60, extra_args=()):
        # lib.MariaDB makes the data directory as root on its first start.
        # It is made here first (the same template), then given to mysql.
        datadir = os.path.join(os.path.abspath(basedir), "mariadb")
        if not os.path.isdir(os.path.join(datadir, "mysql")):
            env = lib.real_clock_env()
            os.makedirs(datadir, exist_ok=True)
            template = self._template(env, timeout)
            if template:
                subprocess.run(["cp", "-a", os.path.join(template, "."), datadir], check=True, env=env)
            else:
                self._install(datadir, os.path.join(basedir, "mariadb-install.log"), env, timeout)
            os.chmod(datadir, 0o711)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "mysql:mysql", datadir], check=True)
        # Its temporary files too: the test's TMPDIR may be closed to mysql.
        return super().start(basedir, port, timeout, [*extra_args, f"--tmpdir={datadir}"])

    def wsrep_args(self, cluster_address, bootstrap):
        opts = (f"gmcast.listen_addr=tcp://127.0.0.1:{self.gcomm_port};base_port={self.gcomm_port};"
                f"ist.recv_addr=127.0.0.1:{self.ist_port};gcache.size=64M;{EVS}")
        args = ["--wsrep-on=ON", f"--wsrep-provider={PROVIDER}",
                f"--wsrep-cluster-address={cluster_address}", "--wsrep-cluster-name=lowi-test",
                f"--wsrep-node-name={self.name}", "--wsrep-node-address=127.0.0.1",
                f"--wsrep-node-incoming-address=127.0.0.1:{self.port}",
                f"--wsrep-provider-options={opts}",
                "--wsrep-sst-method=rsync", f"--wsrep-sst-receive-address=127.0.0.1:{self.sst_port}",
                "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2", "--default-storage-engine=InnoDB"]
        if bootstrap:
            args.append("--wsrep-new-cluster")
        return args

    def status(self, name):
        """A wsrep status variable's value, or None when the node does not answer."""
        try:
            rows = self.query("SHOW GLOBAL STATUS LIKE %s", (name,))
        except Exception:  # noqa: BLE001 -- down or refusing: no value
            return None
        return rows[0][1] if rows else None

    def synced(self):
        return self.alive() and self.status("wsrep_local_state_comment") == "Synced" \
            and self.status("wsrep_cluster_status") == "Primary"


class GaleraCluster:
    def __init__(self, size=3):
        self.nodes = [GaleraNode(i, f"node{i + 1}") for i in range(size)]
        self.basedir = None

    @property
    def address(self):
        return "gcomm://" + ",".join(f"127.0.0.1:{n.gcomm_port}" for n in self.nodes)

    def db_host(self, order):
        """The plugin's db_host listing the nodes in the given order of indices."""
        return ",".join(f"127.0.0.1:{self.nodes[i].port}" for i in order)

    def _start(self, i, bootstrap, timeout):
        n = self.nodes[i]
        # A node started with --wsrep-new-cluster must be the one with the
        # latest state; the others join it and receive a state transfer.
        n.start(os.path.join(self.basedir, n.name), port=n.port, timeout=timeout,
                extra_args=n.wsrep_args(self.address, bootstrap))
        return n

    def start(self, basedir, timeout=120):
        """Bootstraps node 0, then joins the others one by one (each joiner
        gets a full state transfer from a synced node). Returns self."""
        self.basedir = os.path.abspath(basedir)
        t0 = real_time()
        self._start(0, True, timeout)
        self.wait_synced(timeout, [0])
        for i in range(1, len(self.nodes)):
            self._start(i, False, timeout)
            self.wait_synced(timeout, range(i + 1))
        self.start_seconds = real_time() - t0
        return self

    def restart(self, i, timeout=120):
        """Starts node i again (after kill or stop): it rejoins the cluster."""
        return self._start(i, False, timeout)

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def wait_synced(self, timeout=120, indices=None):
        """Waits until the given nodes (default: the live ones) are Synced in
        one primary component of that many nodes."""
        nodes = [self.nodes[i] for i in indices] if indices is not None else self.live()

        def ready():
            return all(n.synced() and n.status("wsrep_cluster_size") == str(len(nodes)) for n in nodes)
        lib.wait_for(ready, timeout, f"{[n.name for n in nodes]} Synced", 0.2)

    def stop(self):
        for n in reversed(self.nodes):
            n.stop()


__all__ = ["GaleraCluster", "GaleraNode", "PROVIDER"]
