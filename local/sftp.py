"""The local stand-in for AWS Transfer Family: an SFTP server on 127.0.0.1 over the uploads bucket of the local S3.

Each seeded facility has one account (password and public key). Its home is a logical tree of two folders, as the
template's Transfer users see it: `/incoming` → `incoming/{facilityId}/` (put only) and `/reports` →
`reports/{facilityId}/` (get only); both can be listed. Everything else is refused: `..`, any other top-level name,
links, directories, renames, removals and writes outside `/incoming`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import asyncssh
import boto3

log = logging.getLogger("local.sftp")

DEFAULT_SFTP_PORT = 2222
INCOMING = "incoming"
REPORTS = "reports"
FOLDERS = (INCOMING, REPORTS)
MAX_NAME_BYTES = 255
DEFAULT_MAX_UPLOAD_BYTES = 52_428_800
START_TIMEOUT_SECONDS = 10
SPOOL_IN_MEMORY_BYTES = 1_048_576
DIRECTORY_MODE = stat.S_IFDIR | 0o755
INCOMING_FILE_MODE = stat.S_IFREG | 0o200  # write-only: a drop is not read back, it may hold passwords
REPORT_FILE_MODE = stat.S_IFREG | 0o444


@dataclass(frozen=True)
class SftpAccount:
    """One facility's SFTP login."""

    username: str
    facility_id: str
    password: str
    private_key_path: Path
    public_key_path: Path

    def password_matches(self, candidate: str) -> bool:
        """Constant-time comparison with the account's password."""
        return hmac.compare_digest(candidate.encode(), self.password.encode())

    def state(self) -> dict[str, str]:
        """The account as the state file lists it."""
        return {
            "username": self.username,
            "facilityId": self.facility_id,
            "password": self.password,
            "privateKeyPath": str(self.private_key_path),
            "publicKeyPath": str(self.public_key_path),
        }


def facility_ids(agencies: Iterable[dict[str, Any]]) -> list[str]:
    """The facility ids of the state file's `agencies` entries."""
    return [facility["facilityId"] for agency in agencies for facility in agency["facilities"]]


def make_accounts(ids: Iterable[str], key_dir: Path) -> list[SftpAccount]:
    """One account per facility: the username is the facility id, a fresh password, a key pair kept in key_dir."""
    key_dir.mkdir(parents=True, exist_ok=True)
    key_dir.chmod(0o700)
    accounts = []
    for facility_id in ids:
        private_key_path = key_dir / f"{facility_id}_ed25519"
        public_key_path = key_dir / f"{facility_id}_ed25519.pub"
        _ensure_key_pair(private_key_path, public_key_path)
        accounts.append(
            SftpAccount(
                username=facility_id,
                facility_id=facility_id,
                password=secrets.token_urlsafe(18),
                private_key_path=private_key_path,
                public_key_path=public_key_path,
            )
        )
    return accounts


def _ensure_key_pair(private_key_path: Path, public_key_path: Path) -> None:
    # Kept across restarts so a client configured with the key keeps working; OpenSSH refuses keys others can read.
    if not private_key_path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment=private_key_path.stem)
        key.write_private_key(str(private_key_path))
        key.write_public_key(str(public_key_path))
    private_key_path.chmod(0o600)
    if not public_key_path.exists():
        asyncssh.read_private_key(str(private_key_path)).write_public_key(str(public_key_path))


class VirtualPathError(Exception):
    """A client path that names nothing a facility account may reach."""


@dataclass(frozen=True)
class VirtualPath:
    """A path of the logical home: `/`, a folder, or an object name below a folder (`parts` without the folder)."""

    folder: str | None
    parts: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """The path as the client sees it."""
        return "/" + "/".join(p for p in (self.folder, *self.parts) if p)


def resolve(raw: bytes) -> VirtualPath:
    """Map a client path to the logical home; `..`, control characters and names outside the folders are refused."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VirtualPathError("path is not UTF-8") from exc
    # Relative paths start at the home, which is the logical root: absolute and relative name the same tree.
    parts = [p for p in text.split("/") if p not in ("", ".")]
    for part in parts:
        if part == "..":
            raise VirtualPathError("'..' is not allowed")
        if len(part.encode()) > MAX_NAME_BYTES or any(ord(c) < 0x20 or c in "\\\x7f" for c in part):
            raise VirtualPathError("invalid name")
    if not parts:
        return VirtualPath(None)
    if parts[0] not in FOLDERS:
        raise VirtualPathError("outside the home")
    return VirtualPath(parts[0], tuple(parts[1:]))


class _WriteFile:
    """A file being put: spooled locally and stored as one object on close, so a half-sent file never lands."""

    def __init__(self, key: str, limit: int) -> None:
        self.key = key
        self.limit = limit
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        self.size = 0
        self.too_large = False


class _ReadFile:
    """A report being got: fetched once on open."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool


class FacilitySftp(asyncssh.SFTPServer):
    """One SFTP session of a facility account, confined to the account's two folders of the uploads bucket."""

    def __init__(self, chan: asyncssh.SSHServerChannel, server: LocalSftpServer) -> None:
        super().__init__(chan)
        username = chan.get_extra_info("username")
        self._account = server.accounts[username]
        self._server = server
        self._open: set[_WriteFile | _ReadFile] = set()

    # ------------------------------------------------------------------ paths
    def _path(self, raw: bytes) -> VirtualPath:
        try:
            return resolve(raw)
        except VirtualPathError as exc:
            raise asyncssh.SFTPPermissionDenied(f"{exc}") from None

    def _prefix(self, folder: str) -> str:
        return f"{folder}/{self._account.facility_id}/"

    def _key(self, path: VirtualPath) -> str:
        assert path.folder is not None
        return self._prefix(path.folder) + "/".join(path.parts)

    async def _s3(self, method: str, **kwargs: Any) -> Any:
        # boto3 blocks: keep it off the event loop so one slow transfer does not stall every session.
        return await asyncio.to_thread(getattr(self._server.s3, method), Bucket=self._server.bucket, **kwargs)

    async def _attrs(self, path: VirtualPath) -> asyncssh.SFTPAttrs:
        if path.folder is None or not path.parts:
            return asyncssh.SFTPAttrs(permissions=DIRECTORY_MODE)
        key = self._key(path)
        try:
            head = await self._s3("head_object", Key=key)
        except self._server.s3.exceptions.ClientError:
            head = None
        if head is not None:
            return _file_attrs(path.folder, head["ContentLength"], head["LastModified"])
        listed = await self._s3("list_objects_v2", Prefix=key + "/", MaxKeys=1)
        if listed.get("KeyCount", 0):
            return asyncssh.SFTPAttrs(permissions=DIRECTORY_MODE)
        raise asyncssh.SFTPNoSuchFile(f"{path.display}: no such file")

    # ------------------------------------------------------------------ SFTPServer
    async def realpath(self, path: bytes) -> bytes:
        """The canonical logical path."""
        return self._path(path).display.encode()

    async def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        """Attributes of the home, a folder, a report folder or an object."""
        return await self._attrs(self._path(path))

    async def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        """As stat: there are no links."""
        return await self._attrs(self._path(path))

    def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        """The entries of the home or of a folder (refused eagerly, so opendir itself fails)."""
        return self._scan(self._path(path))

    async def _scan(self, path: VirtualPath) -> AsyncIterator[asyncssh.SFTPName]:
        if path.folder is None:
            for folder in FOLDERS:
                yield asyncssh.SFTPName(folder.encode(), attrs=asyncssh.SFTPAttrs(permissions=DIRECTORY_MODE))
            return
        attrs = await self._attrs(path)
        if attrs.permissions != DIRECTORY_MODE:
            raise asyncssh.SFTPNoSuchFile(f"{path.display}: not a directory")
        prefix = self._key(path).rstrip("/") + "/"
        pages = self._server.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._server.bucket, Prefix=prefix, Delimiter="/"
        )
        for page in await asyncio.to_thread(list, pages):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(prefix) :].rstrip("/")
                yield asyncssh.SFTPName(name.encode(), attrs=asyncssh.SFTPAttrs(permissions=DIRECTORY_MODE))
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                if name:
                    attrs = _file_attrs(path.folder, item["Size"], item["LastModified"])
                    yield asyncssh.SFTPName(name.encode(), attrs=attrs)

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> _WriteFile | _ReadFile:
        """Put a file directly into /incoming, or get an existing object below /reports."""
        target = self._path(path)
        writing = bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC))
        if writing:
            if target.folder != INCOMING or len(target.parts) != 1 or pflags & asyncssh.FXF_READ:
                raise asyncssh.SFTPPermissionDenied("files can only be put directly into /incoming")
            handle: _WriteFile | _ReadFile = _WriteFile(self._key(target), self._server.max_upload_bytes)
        else:
            if target.folder != REPORTS or not target.parts:
                raise asyncssh.SFTPPermissionDenied("only reports can be read")
            handle = _ReadFile(await self._download(target))
        self._open.add(handle)
        return handle

    async def _download(self, target: VirtualPath) -> IO[bytes]:
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        try:
            await self._s3("download_fileobj", Key=self._key(target), Fileobj=spool)
        except self._server.s3.exceptions.ClientError:
            spool.close()
            raise asyncssh.SFTPNoSuchFile(f"{target.display}: no such file") from None
        return spool

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        """Bytes of a report."""
        if not isinstance(file_obj, _ReadFile):
            raise asyncssh.SFTPPermissionDenied("not open for reading")
        file_obj.spool.seek(offset)
        return file_obj.spool.read(size)

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        """Spool bytes of a put, up to the upload size limit."""
        if not isinstance(file_obj, _WriteFile):
            raise asyncssh.SFTPPermissionDenied("not open for writing")
        if offset + len(data) > file_obj.limit:
            file_obj.too_large = True
            raise asyncssh.SFTPFailure(f"file larger than {file_obj.limit} bytes")
        file_obj.spool.seek(offset)
        file_obj.spool.write(data)
        file_obj.size = max(file_obj.size, offset + len(data))
        return len(data)

    async def close(self, file_obj: object) -> None:
        """Store a put as one object under incoming/{facilityId}/ (which starts a drop upload)."""
        if not isinstance(file_obj, _WriteFile | _ReadFile) or file_obj not in self._open:
            return
        self._open.discard(file_obj)
        try:
            if isinstance(file_obj, _WriteFile) and not file_obj.too_large:
                file_obj.spool.seek(0)
                await self._s3("put_object", Key=file_obj.key, Body=file_obj.spool, **self._server.put_extra)
                log.info("sftp %s put %s (%d bytes)", self._account.username, file_obj.key, file_obj.size)
        finally:
            file_obj.spool.close()

    async def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        """Size of an open file."""
        if isinstance(file_obj, _WriteFile):
            return asyncssh.SFTPAttrs(permissions=INCOMING_FILE_MODE, size=file_obj.size)
        if isinstance(file_obj, _ReadFile):
            size = file_obj.spool.seek(0, os.SEEK_END)
            return asyncssh.SFTPAttrs(permissions=REPORT_FILE_MODE, size=size)
        raise asyncssh.SFTPFailure("bad handle")

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        """Accepted and ignored, as Transfer Family's SetStatOption ENABLE_NO_OP does (objects have no modes)."""
        self._path(path)

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        """Accepted and ignored (see setstat)."""

    def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        """Accepted and ignored (see setstat)."""
        self._path(path)

    def _refuse(self, *paths: bytes) -> None:
        for path in paths:
            self._path(path)
        raise asyncssh.SFTPPermissionDenied("not allowed")

    def remove(self, path: bytes) -> None:
        """Refused: drops and reports are removed by Intake."""
        self._refuse(path)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        """Refused: the two folders are fixed."""
        self._refuse(path)

    def rmdir(self, path: bytes) -> None:
        """Refused: the two folders are fixed."""
        self._refuse(path)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        """Refused: a rename would be a second drop."""
        self._refuse(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        """Refused (see rename)."""
        self._refuse(oldpath, newpath)

    def readlink(self, path: bytes) -> bytes:
        """There are no links."""
        self._path(path)
        raise asyncssh.SFTPNoSuchFile("not a link")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        """Refused: no links."""
        raise asyncssh.SFTPPermissionDenied("links are not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        """Refused: no links."""
        raise asyncssh.SFTPPermissionDenied("links are not allowed")

    def exit(self) -> None:
        """Discard what the client left open: a put that was never closed is not a drop."""
        for file_obj in self._open:
            file_obj.spool.close()
        self._open.clear()


def _file_attrs(folder: str, size: int, modified: datetime) -> asyncssh.SFTPAttrs:
    mode = INCOMING_FILE_MODE if folder == INCOMING else REPORT_FILE_MODE
    mtime = int(modified.timestamp())
    return asyncssh.SFTPAttrs(permissions=mode, size=size, atime=mtime, mtime=mtime)


class _Authenticator(asyncssh.SSHServer):
    """Password or public-key authentication of the facility accounts."""

    def __init__(self, accounts: dict[str, SftpAccount]) -> None:
        self._accounts = accounts
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        """Keep the connection to set the account's authorized key on."""
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        """Always require authentication; only a known account has a key that can match."""
        account = self._accounts.get(username)
        keys = account.public_key_path.read_text() if account is not None else ""
        if self._conn is not None:
            self._conn.set_authorized_keys(asyncssh.import_authorized_keys(keys))
        return True

    def public_key_auth_supported(self) -> bool:
        """Keys are accepted."""
        return True

    def password_auth_supported(self) -> bool:
        """Passwords are accepted."""
        return True

    def validate_password(self, username: str, password: str) -> bool:
        """True only for the account's own password."""
        account = self._accounts.get(username)
        return account is not None and account.password_matches(password)


class LocalSftpServer:
    """The SFTP server on its own event loop thread."""

    def __init__(
        self,
        accounts: list[SftpAccount],
        bucket: str,
        host_key_path: Path,
        port: int = DEFAULT_SFTP_PORT,
        region: str = "us-east-1",
    ) -> None:
        self.accounts = {account.username: account for account in accounts}
        self.bucket = bucket
        self.host_key_path = host_key_path
        self.requested_port = port
        self.port = port
        self.s3 = boto3.session.Session().client("s3", region_name=region)
        self.max_upload_bytes = int(os.environ.get("MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES)
        kms_key = os.environ.get("REPORTS_KMS_KEY_ID", "")
        self.put_extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sftp", daemon=True)
        self._acceptor: asyncssh.SSHAcceptor | None = None

    def start(self) -> None:
        """Listen on 127.0.0.1; raises RuntimeError if the port is taken."""
        if not self.host_key_path.exists():
            asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(self.host_key_path))
        self.host_key_path.chmod(0o600)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        try:
            self._acceptor = future.result(timeout=START_TIMEOUT_SECONDS)
        except OSError as exc:
            self._stop_loop()
            raise RuntimeError(
                f"127.0.0.1:{self.requested_port} is in use: stop what holds it or set INTAKE_SFTP_PORT"
            ) from exc
        self.port = int(self._acceptor.sockets[0].getsockname()[1])
        log.info(
            "sftp on 127.0.0.1:%d for %d facilities (accounts: the state file's sftp entry)",
            self.port,
            len(self.accounts),
        )

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            self.requested_port,
            server_host_keys=[str(self.host_key_path)],
            server_factory=lambda: _Authenticator(self.accounts),
            sftp_factory=lambda chan: FacilitySftp(chan, self),
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_pty=False,
            login_timeout=30,
        )

    def stop(self) -> None:
        """Close the listener and its sessions, then the loop."""
        if self._acceptor is not None:
            acceptor = self._acceptor
            self._acceptor = None

            async def close() -> None:
                acceptor.close()
                await acceptor.wait_closed()

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=START_TIMEOUT_SECONDS)
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
        if not self._loop.is_running():
            self._loop.close()

    def state(self) -> dict[str, Any]:
        """The `sftp` entry of `.intake/local-stack.json`."""
        return {
            "sftp": {
                "host": "127.0.0.1",
                "port": self.port,
                "folders": {"/incoming": "incoming/{facilityId}/", "/reports": "reports/{facilityId}/"},
                "accounts": [account.state() for account in self.accounts.values()],
            }
        }


def start_sftp(bucket: str, agencies: Iterable[dict[str, Any]], state_dir: Path, region: str) -> LocalSftpServer:
    """Start the SFTP server for the seeded facilities; port from INTAKE_SFTP_PORT (default 2222, 0 picks one)."""
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    port = int(os.environ.get("INTAKE_SFTP_PORT") or DEFAULT_SFTP_PORT)
    key_dir = state_dir / "sftp"
    accounts = make_accounts(facility_ids(agencies), key_dir)
    server = LocalSftpServer(accounts, bucket, key_dir / "host_ed25519", port=port, region=region)
    server.start()
    return server
