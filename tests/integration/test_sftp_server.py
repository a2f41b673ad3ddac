"""local.sftp in-process over moto: path rules, the size limit, what lands in the bucket (asyncssh as the client)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncssh
import boto3
import pytest

from local.sftp import LocalSftpServer, VirtualPath, VirtualPathError, make_accounts, resolve

FACILITY, OTHER = "fac-ridge", "fac-lake"
BUCKET = "intake-sftp-test"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/", VirtualPath(None)),
        (b".", VirtualPath(None)),
        (b"", VirtualPath(None)),
        (b"/incoming", VirtualPath("incoming")),
        (b"incoming/./roster.csv", VirtualPath("incoming", ("roster.csv",))),
        (b"//reports//drop-1/errors.csv", VirtualPath("reports", ("drop-1", "errors.csv"))),
        (b"/incoming/a..b.csv", VirtualPath("incoming", ("a..b.csv",))),
    ],
)
def test_paths_inside_the_home_resolve_to_a_folder(raw: bytes, expected: VirtualPath) -> None:
    # Given a client path inside the logical home / When resolved / Then it names that folder and object
    assert resolve(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [b"..", b"/..", b"/incoming/..", b"/incoming/../reports", b"/etc/passwd", b"/fac-lake", b"/incoming\\..", b"\xff"],
)
def test_paths_that_leave_the_two_folders_are_refused(raw: bytes) -> None:
    # Given a path with '..', outside the two folders, with a backslash or not UTF-8 / When resolved / Then refused
    with pytest.raises(VirtualPathError):
        resolve(raw)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSftpServer]:
    """The SFTP server on a free port, for two facilities, over a mocked bucket (one per module, emptied per test)."""
    from moto import mock_aws

    keys = tmp_path_factory.mktemp("sftp")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        server = LocalSftpServer(make_accounts([FACILITY, OTHER], keys / "keys"), BUCKET, keys / "host_key", port=0)
        server.max_upload_bytes = 64
        server.start()
        yield server
        server.stop()


@pytest.fixture
def sftp_server(module_server: LocalSftpServer) -> LocalSftpServer:
    """The module's server with an empty bucket."""
    s3 = boto3.client("s3", region_name="us-east-1")
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return module_server


async def _session(server: LocalSftpServer, username: str, password: str, actions: Any) -> Any:
    async with (
        asyncssh.connect(
            "127.0.0.1", server.port, username=username, password=password, known_hosts=None, client_keys=None
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        return await actions(sftp)


def run(server: LocalSftpServer, actions: Any, username: str = FACILITY, password: str | None = None) -> Any:
    """Run actions(sftp client) in a session of username (its own password unless given)."""
    secret = password if password is not None else server.accounts[username].password
    # A thread of its own: Playwright's sync API (tests/browser) leaves an event loop running in the main thread.
    with ThreadPoolExecutor(max_workers=1) as client_thread:
        return client_thread.submit(asyncio.run, _session(server, username, secret, actions)).result()


def test_a_put_lands_as_one_object_under_the_facility_incoming_prefix(sftp_server: LocalSftpServer) -> None:
    # Given a facility session
    async def put(sftp: asyncssh.SFTPClient) -> list[str]:
        async with sftp.open("/incoming/roster.csv", "wb") as f:
            await f.write(b"requestId,docID\n")
            await f.write(b"r1,100\n")
        return sorted(await sftp.listdir("/incoming"))

    # When it writes a file into /incoming
    listed = run(sftp_server, put)
    # Then the bucket holds exactly those bytes under incoming/{facilityId}/ and the folder lists it
    body = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=sftp_server.bucket, Key=f"incoming/{FACILITY}/roster.csv"
    )["Body"]
    assert body.read() == b"requestId,docID\nr1,100\n"
    assert listed == ["roster.csv"]


def test_a_file_over_the_size_limit_fails_and_leaves_nothing(sftp_server: LocalSftpServer) -> None:
    # Given a facility session and a file one byte over the limit
    async def put(sftp: asyncssh.SFTPClient) -> None:
        async with sftp.open("/incoming/big.csv", "wb") as f:
            await f.write(b"x" * (sftp_server.max_upload_bytes + 1))

    # When it is put / Then the write fails and no object exists
    with pytest.raises(asyncssh.SFTPFailure):
        run(sftp_server, put)
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=sftp_server.bucket, Prefix="incoming/")
    assert listed.get("KeyCount", 0) == 0


def test_reports_of_the_facility_are_readable_and_another_facility_is_invisible(sftp_server: LocalSftpServer) -> None:
    # Given a report of each facility in the bucket
    s3 = boto3.client("s3", region_name="us-east-1")
    for facility in (FACILITY, OTHER):
        s3.put_object(Bucket=sftp_server.bucket, Key=f"reports/{facility}/u-1/errors.csv", Body=facility.encode())

    async def read(sftp: asyncssh.SFTPClient) -> tuple[list[str], list[str], bytes]:
        async with sftp.open("/reports/u-1/errors.csv", "rb") as f:
            data = await f.read()
        return sorted(await sftp.listdir("/")), sorted(await sftp.listdir("/reports")), data

    # When the facility lists its home and reads its report
    home, reports, data = run(sftp_server, read)
    # Then it sees its two folders and its own report only
    assert (home, reports, data) == (["incoming", "reports"], ["u-1"], FACILITY.encode())


def test_another_facility_password_does_not_open_a_session(sftp_server: LocalSftpServer) -> None:
    # Given the other facility's password / When used for this facility's account / Then authentication fails
    with pytest.raises(asyncssh.PermissionDenied):
        run(sftp_server, lambda sftp: sftp.listdir("/"), password=sftp_server.accounts[OTHER].password)
