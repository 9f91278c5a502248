"""A local S3-compatible server for the object-storage tests (moto's server mode, in this process).

The endpoint and dummy credentials go into the environment when this module is imported, that
is while pytest collects the tests, before any worker process or fork server is started: workers
inherit the environment of the fork server, which is started once per test session, and s3fs
in a worker reads its endpoint from there (``AWS_ENDPOINT_URL_S3``), as on a real cluster.
The server itself starts with the first test that asks for it (`S3Server.start`).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import uuid
from pathlib import Path

AVAILABLE = all(importlib.util.find_spec(m) is not None for m in ("moto", "s3fs", "boto3"))
SKIP_REASON = 'object-storage tests need moto[server], boto3 and s3fs (pip install -e ".[test,s3]")'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A worker process that imports a test module (to unpickle a job defined there) imports this one
# again: it must keep the endpoint its parent chose, not pick another port.
ENDPOINT = os.environ.get("SAMPLEGEN_TEST_S3_ENDPOINT") or f"http://127.0.0.1:{_free_port()}"
PORT = int(ENDPOINT.rsplit(":", 1)[1])
ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL_S3": ENDPOINT, "SAMPLEGEN_TEST_S3_ENDPOINT": ENDPOINT}
if AVAILABLE:
    os.environ.update(ENVIRONMENT)
    os.environ.pop("AWS_PROFILE", None)


class S3Server:
    """The moto server on `PORT`, started once; `bucket()` makes a fresh bucket per test."""

    _server = None

    @classmethod
    def start(cls) -> "S3Server":
        if cls._server is None:
            from moto.server import ThreadedMotoServer

            cls._server = ThreadedMotoServer(ip_address="127.0.0.1", port=PORT, verbose=False)
            cls._server.start()
        return cls()

    @property
    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=ENDPOINT)

    def bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def objects(self, url: str) -> dict[str, bytes]:
        """Relative key -> bytes of every object under `url` (``s3://bucket/prefix``)."""
        bucket, _, prefix = url[len("s3://"):].partition("/")
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = self.client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len(prefix):]] = body
        return found

    def put(self, url: str, data: bytes) -> None:
        bucket, _, key = url[len("s3://"):].partition("/")
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def get(self, url: str) -> bytes:
        bucket, _, key = url[len("s3://"):].partition("/")
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def delete(self, url: str) -> None:
        bucket, _, key = url[len("s3://"):].partition("/")
        self.client.delete_object(Bucket=bucket, Key=key)


def local_files(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under `root` (what `S3Server.objects` gives for a prefix)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
