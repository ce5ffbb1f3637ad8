"""Copy folders to and from an S3 endpoint (run by the multi-host test inside a host's network namespace).

    python s3_tool.py upload BUCKET LOCAL_DIR PREFIX      (creates BUCKET)
    python s3_tool.py download BUCKET PREFIX LOCAL_DIR

Credentials and endpoint come from the standard AWS_* environment variables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import boto3


def main(argv: list[str]) -> None:
    client = boto3.client("s3")
    command, bucket = argv[0], argv[1]
    if command == "upload":
        local, prefix = Path(argv[2]), argv[3]
        client.create_bucket(Bucket=bucket)
        for path in sorted(local.rglob("*")):
            if path.is_file():
                key = f"{prefix}{path.relative_to(local).as_posix()}"
                client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    elif command == "download":
        prefix, local = argv[2], Path(argv[3])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                target = local / entry["Key"][len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
