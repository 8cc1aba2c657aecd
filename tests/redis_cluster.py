"""A throw-away three-master Redis Cluster on 127.0.0.1, for tests.

Three ``redis-server --cluster-enabled yes`` processes on free ports (each also
needs its port + 10000 free, for the cluster bus), joined by
``redis-cli --cluster create``. Nothing is persisted. A missing ``redis-server``
or ``redis-cli`` fails the tests that need the cluster; they never skip.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

from tests.redis_server import RedisServerMissing
from tests.servers import stop_process

BUS_OFFSET = 10000


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster-bus port (port + 10000) is free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + BUS_OFFSET < 65536 and port not in ports and _port_free(port + BUS_OFFSET):
            ports.append(port)
    return ports


def _command(port: int, *args: str) -> str:
    cli = shutil.which("redis-cli") or "redis-cli"
    result = subprocess.run(
        [cli, "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True, timeout=10, check=False
    )
    return result.stdout.decode(errors="replace")


class RedisCluster:
    """Three masters, no replicas, slots spread evenly by ``redis-cli --cluster create``."""

    def __init__(self, masters: int = 3) -> None:
        self.server = shutil.which("redis-server")
        self.cli = shutil.which("redis-cli")
        if self.server is None or self.cli is None:
            raise RedisServerMissing(
                "redis-server and redis-cli are needed for the Redis Cluster tests "
                "(apt-get install redis-server); they do not skip"
            )
        self.ports = _cluster_ports(masters)
        self._dir = tempfile.TemporaryDirectory(prefix="paywall-cluster-")
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The store URL: any node, and the cluster option."""
        return f"redis://127.0.0.1:{self.ports[0]}/0?cluster=yes"

    def start(self, timeout: float = 30.0) -> None:
        assert self.server is not None and self.cli is not None
        for port in self.ports:
            argv = [
                self.server,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", "2000",
                "--save", "",
                "--appendonly", "no",
                "--protected-mode", "no",
                "--dir", self._dir.name,
                "--loglevel", "warning",
            ]  # fmt: skip
            self._procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while "PONG" not in _command(port, "PING"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster node on {port} did not start")
                time.sleep(0.05)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        created = subprocess.run(
            [self.cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout.decode(errors='replace')}")
        while not all("cluster_state:ok" in _command(port, "CLUSTER", "INFO") for port in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.1)

    def flush(self) -> None:
        for port in self.ports:
            _command(port, "FLUSHALL")

    def keys_per_node(self) -> list[int]:
        return [int(_command(port, "DBSIZE").strip() or 0) for port in self.ports]

    def close(self) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            stop_process(proc)
        self._dir.cleanup()


@contextlib.contextmanager
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
