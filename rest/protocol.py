"""uvicorn's httptools HTTP protocol, answering a request that is not valid HTTP like the hub answers
every other error.

uvicorn parses requests itself and refuses what its parser rejects (a Content-Length that is not a
number or comes twice, Content-Length with chunked encoding, a bad chunk, NUL or spaces in the target,
a header without a colon, a TLS handshake on the plain port...) before the application sees anything,
with a plain-text 400 that has neither a request id nor security headers. This protocol sends the
hub's JSON error (`malformed_request`) with a fresh request id, logs it on the access log, and closes
the connection as uvicorn does: after a parse error the framing of the rest of the stream is unknown.
"""

from __future__ import annotations

import logging

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from hub.errors import MalformedRequest
from hub.logs import new_request_id
from hub.security import BASE_SECURITY_HEADERS, ERROR_ONLY_CSP
from rest.jsonutil import dumps

log = logging.getLogger("hub.access")

_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-security-policy", ERROR_ONLY_CSP.encode()),
    (b"cache-control", b"no-store"),
    *((name.lower().encode(), value.encode()) for name, value in BASE_SECURITY_HEADERS.items()),
    (b"connection", b"close"),
]


def malformed_body(request_id: str) -> bytes:
    err = MalformedRequest("The request is malformed.")
    return dumps({"error": {**err.to_dict(), "request_id": request_id}}).encode()


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        request_id = new_request_id()
        body = malformed_body(request_id)
        headers = [
            *self.server_state.default_headers,
            *_HEADERS,
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        content = [STATUS_LINE[400], *(name + b": " + value + b"\r\n" for name, value in headers), b"\r\n", body]
        self.transport.write(b"".join(content))
        self.transport.close()
        client = self.client[0] if self.client else "unknown"
        log.info(
            "request",
            extra={
                "fields": {
                    "method": None,
                    "route": "malformed",
                    "status": 400,
                    "request_id": request_id,
                    "client": client,
                }
            },
        )
