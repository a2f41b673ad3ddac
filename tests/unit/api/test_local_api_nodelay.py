"""The local API answers with TCP_NODELAY set, as a real endpoint does.

With Nagle's algorithm on, the body written after the headers waits for the client's delayed ACK (~40 ms on Linux) on
every request of a kept-alive connection: the end-to-end suites paid it on each of their thousands of requests.
"""

from __future__ import annotations

import http.client
import socket
import threading
from typing import cast

from local.local_api import LocalApi, LocalApiServer, make_request_handler


def test_given_a_connection_when_the_local_api_answers_then_its_socket_has_nagle_off() -> None:
    # Given a server built from the local API's own handler class, recording its connection's TCP_NODELAY
    seen: list[int] = []

    class Recording(make_request_handler(cast(LocalApi, None))):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            super().setup()
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = LocalApiServer(("127.0.0.1", 0), Recording)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # When a client sends a request the gateway refuses before it reaches the API (chunked: 411)
        client = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        client.request("POST", "/v1/learners", body=iter([b"{}"]), headers={"Transfer-Encoding": "chunked"})
        status = client.getresponse().status
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    # Then it is answered, on a socket with Nagle's algorithm off
    assert status == 411
    assert seen and seen[0] != 0
