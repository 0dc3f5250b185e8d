"""moto's server mode for the tests that need AWS services nothing real can run offline.

``ThreadedMotoServer`` serves the AWS APIs (Glue, Athena, S3, ...) over real HTTP on a loopback
port, so boto3 and pyarrow talk to it as they would to AWS. The credentials go into the
environment, where the AWS credential chain finds them, as on a real host.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer


@contextmanager
def moto_server(region: str, key_id: str = "testing", secret: str = "testing") -> Iterator[str]:
    """The endpoint URL of a moto server, stopped (and the environment restored) on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", key_id)
        patch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        patch.setenv("AWS_REGION", region)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()
