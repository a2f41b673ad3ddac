"""The local stack's DynamoDB request counter: every request the embedded moto server answers, by operation and table.

moto keeps no request log of its own that is cheap to read (its recorder writes every body, passwords' hashes
included, to a file), so the moto server's WSGI app is wrapped: a DynamoDB request (an `X-Amz-Target` of
`DynamoDB_20120810.*`) adds one to its (operation, table) counter before moto answers it. Only names are kept, never
a key or an item. Any client's request counts (the handlers', the pollers', a test's own reads): a test reads the
counters before and after what it measures, and compares the tables it cares about.

`GET {awsEndpoint}/__intake/dynamodb-requests` answers `{"requests": [{"operation", "table", "count"}, ...]}`.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

COUNTER_PATH = "/__intake/dynamodb-requests"
TARGET_PREFIX = "DynamoDB_20120810."

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class DynamoDbRequests:
    """Counts of DynamoDB requests by (operation, table); thread-safe (the moto server is threaded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, operation: str, tables: Iterable[str]) -> None:
        """One request of `operation` on each of `tables` (a batch or transaction counts once per table)."""
        with self._lock:
            for table in sorted(set(tables)) or ["-"]:
                self._counts[(operation, table)] += 1

    def snapshot(self) -> list[dict[str, Any]]:
        """The counters as the endpoint answers them."""
        with self._lock:
            items = sorted(self._counts.items())
        return [{"operation": op, "table": table, "count": count} for (op, table), count in items]


def tables_of(body: dict[str, Any]) -> list[str]:
    """The table names one DynamoDB request names: TableName, a batch's RequestItems, a transaction's items."""
    if isinstance(body.get("TableName"), str):
        return [body["TableName"]]
    if isinstance(body.get("RequestItems"), dict):
        return list(body["RequestItems"])
    names = []
    for item in body.get("TransactItems") or []:
        for action in item.values() if isinstance(item, dict) else ():
            if isinstance(action, dict) and isinstance(action.get("TableName"), str):
                names.append(action["TableName"])
    return names


def counting(app: WsgiApp, requests: DynamoDbRequests) -> WsgiApp:
    """`app` with DynamoDB requests counted and the counters served at COUNTER_PATH."""

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == COUNTER_PATH and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps({"requests": requests.snapshot()}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        if target.startswith(TARGET_PREFIX):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)  # moto reads the same bytes again
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                parsed = {}
            requests.add(target.removeprefix(TARGET_PREFIX), tables_of(parsed if isinstance(parsed, dict) else {}))
        return app(environ, start_response)

    return wrapped


def counting_moto_server(ip_address: str, port: int, requests: DynamoDbRequests) -> Any:
    """A moto ThreadedMotoServer whose app counts DynamoDB requests (moto builds its app inside its thread)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class CountingMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = counting(DomainDispatcherApplication(create_backend_app), requests)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return CountingMotoServer(ip_address=ip_address, port=port, verbose=False)
