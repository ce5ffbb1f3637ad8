"""One way to read and write small files on any filesystem: local paths, `s3://`, `gs://`, ...

Everything goes through fsspec (`storage_options` are handed to the filesystem as they are;
without them, credentials come from the protocol's standard environment and config files:
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_ENDPOINT_URL`, `~/.aws/credentials`, instance
roles, ...).

Atomic writes without rename: a local file is written to a hidden temporary file, fsynced and
renamed into place. An object store has no rename (s3fs's `mv` is copy + delete, which shows
the temporary object under its own name meanwhile), but it does not need one: a PUT (or a
multipart upload, completed by one final request) makes an object visible whole or not at
all. So on object storage `write_atomic` writes the final key once, directly. Exclusive
creation (`write_if_absent`) uses the store's conditional write (`If-None-Match: *` on S3,
mode "xb" in fsspec) where the filesystem has it.

`redact_url` and `scrub` keep credentials out of what we print: a URL's user:password part
and signed query strings, and the secret values of `storage_options` and of the standard
credential environment variables.
"""

from __future__ import annotations

import os
import posixpath
import re
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem

#: Environment variables that hold credentials of the object stores fsspec reaches.
SECRET_ENV_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
)
_SECRET_OPTION = re.compile(
    r"(secret|passw|token|credential|api_?key|access_?key|private_?key|account_?key|conn(ection)?_?str|sas|^key$)",
    re.IGNORECASE,
)
_SIGNED_QUERY = re.compile(r"(X-Amz-[A-Za-z-]+|Signature|sig|se|sp|sv|token|AWSAccessKeyId|Expires)=", re.IGNORECASE)
REDACTED = "<redacted>"


def url_to_fs(path: str, storage_options: dict[str, Any] | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of `path` (a local path or a URL) and the path within it."""
    return fsspec.core.url_to_fs(str(path), **(storage_options or {}))


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether `fs` is the local filesystem (rename is atomic there; `os` and pyarrow can be used directly)."""
    return isinstance(fs, LocalFileSystem)


#: Protocols whose writes make an object visible whole or not at all (no rename needed, none available).
OBJECT_STORE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"})


def puts_whole_objects(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether `fs` is an object store: a write of a key becomes visible complete, in one step."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    return any(p in OBJECT_STORE_PROTOCOLS for p in protocols)


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether `path` names a protocol other than the local filesystem (`s3://b/k`; not `/x` or `file:///x`)."""
    text = str(path)
    protocol = text.split("://", 1)[0] if "://" in text else ""
    return bool(protocol) and protocol not in ("file", "local")


def join(base: str | os.PathLike[str], *parts: str) -> str:
    """`base` joined with `parts` by "/", for local paths and URLs alike (keeps `s3://`)."""
    text = str(base)
    for part in parts:
        text = text.rstrip("/") + "/" + part.strip("/") if text else part
    return text


def write_atomic(
    path: str, data: bytes, storage_options: dict[str, Any] | None = None, file_mode: int | None = None
) -> None:
    """Write `data` to `path` so that readers see the old content or all of the new, never a part.

    Local: a hidden temporary file in the same folder, fsynced, then renamed over `path` (with
    `file_mode` applied before the rename). Object storage: one direct write of the final key
    (see the module docstring); `file_mode` does not apply there.
    """
    fs, target = url_to_fs(path, storage_options)
    directory = posixpath.dirname(target)
    if not is_local(fs):
        if directory:
            fs.makedirs(directory, exist_ok=True)
        if puts_whole_objects(fs):
            fs.pipe_file(target, data)
        else:  # other remote filesystems: a temporary file and their rename
            temporary = posixpath.join(directory, f".{posixpath.basename(target)}.{uuid.uuid4().hex}.tmp")
            fs.pipe_file(temporary, data)
            fs.mv(temporary, target)
        return
    os.makedirs(directory or ".", exist_ok=True)
    temporary = os.path.join(directory or ".", f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if file_mode is not None:
            os.chmod(temporary, file_mode)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_if_absent(path: str, data: bytes, storage_options: dict[str, Any] | None = None) -> bool:
    """Create `path` holding `data` only if nothing is there; False when it exists already.

    Exclusive on local disks and on stores with conditional writes (S3); elsewhere check-then-write.
    """
    fs, target = url_to_fs(path, storage_options)
    directory = posixpath.dirname(target)
    if directory:
        fs.makedirs(directory, exist_ok=True)
    try:
        with fs.open(target, "xb") as handle:
            handle.write(data)
        return True
    except FileExistsError:
        return False
    except (ValueError, NotImplementedError):  # no exclusive create on this filesystem
        if fs.exists(target):
            return False
        fs.pipe_file(target, data)
        return True


def read_bytes(path: str, storage_options: dict[str, Any] | None = None) -> bytes:
    """The content of `path`; `FileNotFoundError` when it does not exist."""
    fs, target = url_to_fs(path, storage_options)
    return fs.cat_file(target)


def exists(path: str, storage_options: dict[str, Any] | None = None) -> bool:
    """Whether a file or folder (an object prefix, on object storage) exists at `path`."""
    fs, target = url_to_fs(path, storage_options)
    return fs.exists(target)


def list_names(folder: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The names (not paths) of the entries directly inside `folder`; empty when it does not exist."""
    fs, target = url_to_fs(folder, storage_options)
    try:
        entries = fs.ls(target, detail=False)
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(str(e).rstrip("/")) for e in entries)


def remove(path: str, storage_options: dict[str, Any] | None = None, recursive: bool = False) -> None:
    """Delete `path` (with `recursive`, a folder and everything under it); nothing when it is gone."""
    fs, target = url_to_fs(path, storage_options)
    try:
        fs.rm(target, recursive=recursive)
    except FileNotFoundError:
        pass


def make_private_folder(path: str, storage_options: dict[str, Any] | None = None) -> None:
    """Create folder `path` (mode 0700 on a local disk; object stores have no folders to create)."""
    fs, target = url_to_fs(path, storage_options)
    if is_local(fs):
        os.makedirs(target, exist_ok=True)
        os.chmod(target, 0o700)


def redact_url(url: str) -> str:
    """`url` without a user:password part or a signed query string (what a log or report may show)."""
    text = str(url)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = REDACTED if parts.query and _SIGNED_QUERY.search(parts.query) else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secret_values(storage_options: dict[str, Any] | None = None) -> list[str]:
    """The credential strings of `storage_options` (nested too) and of the standard environment variables."""
    found: list[str] = []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, str(key))
        elif isinstance(value, str) and _SECRET_OPTION.search(name) and len(value) >= 4:
            found.append(value)

    walk(storage_options or {}, "")
    found.extend(os.environ[name] for name in SECRET_ENV_VARS if len(os.environ.get(name, "")) >= 4)
    return sorted(set(found), key=len, reverse=True)


def scrub(text: str, storage_options: dict[str, Any] | None = None) -> str:
    """`text` with every credential it contains replaced (see `secret_values`)."""
    for secret in secret_values(storage_options):
        text = text.replace(secret, REDACTED)
    return text
