"""payflow's async HTTP/1.1 client (`payflow._http.Pool`) against small scripted servers, over
real sockets, under asyncio's loop and uvloop's (the one `payflow serve` runs)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import trustme
import uvloop

from payflow._http import Headers, Pool

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]
# Reads one request and writes back what the test scripts: (connection number, request) -> bytes
Script = Callable[[int, bytes], Awaitable[bytes | None]]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nRequest-Id: req_1\r\n\r\n{}"
OK2 = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n[]"


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner[Any]:
    runner: Runner[Any] = asyncio.run if request.param == "asyncio" else uvloop.run
    return runner


class Server:
    """A loopback server that answers each request as `script` says; counts connections and
    keeps the raw requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []

    async def _read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return head + await reader.readexactly(length)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                request = await self._read_request(reader)
                self.requests.append(request)
                answer = await self.script(number, request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @asynccontextmanager
    async def serving(self, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        finally:
            server.close()


async def always_ok(_: int, __: bytes) -> bytes:
    return OK


def pool(timeout: float = 5.0, cafile: str | None = None) -> Pool:
    return Pool(max_connections=10, timeout=timeout, cafile=cafile)


def answer_to_one_get(run: Runner[Any], answer: bytes) -> tuple[bytes, int, Headers]:
    """What the client makes of `answer`, the server's reply to one GET."""

    async def reply(_: int, __: bytes) -> bytes:
        return answer

    server = Server(reply)

    async def main() -> tuple[bytes, int, Headers]:
        client = pool()
        async with server.serving() as url:
            try:
                return await client.request("get", url, {}, b"")
            finally:
                client.close()

    result: tuple[bytes, int, Headers] = run(main())
    return result


def test_sequential_requests_share_one_connection(run: Runner[Any]) -> None:
    """Keep-alive: five requests, one connection, each answered in full."""
    server = Server(always_ok)

    async def main() -> list[tuple[bytes, int, str | None]]:
        client = pool()
        async with server.serving() as url:
            answers = [await client.request("post", f"{url}/v1/x", {}, b"a=1") for _ in range(5)]
        client.close()
        return [(body, status, headers.get("request-id")) for body, status, headers in answers]

    assert ([(b"{}", 200, "req_1")] * 5, 1) == (run(main()), server.connections)


def test_the_request_is_sent_as_http_1_1_with_its_body(run: Runner[Any]) -> None:
    """Method upper-cased, path and query kept, Host and Content-Length set, headers passed."""
    server = Server(always_ok)

    async def main() -> str:
        client = pool()
        async with server.serving() as url:
            await client.request("post", f"{url}/v1/x?expand[]=y", {"Idempotency-Key": "k"}, b"a=1")
            host = url.removeprefix("http://")
        client.close()
        return host

    host = run(main())
    expected = (
        f"POST /v1/x?expand[]=y HTTP/1.1\r\nHost: {host}\r\nIdempotency-Key: k\r\n"
        "Content-Length: 3\r\n\r\na=1"
    )
    assert [expected.encode()] == server.requests


def test_a_connection_close_answer_is_not_reused(run: Runner[Any]) -> None:
    """After `Connection: close`, the next request opens a new connection."""

    async def closing(_: int, __: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"

    server = Server(closing)

    async def main() -> list[int]:
        client = pool()
        async with server.serving() as url:
            statuses = [(await client.request("get", url, {}, b""))[1] for _ in range(3)]
        client.close()
        return statuses

    assert ([200, 200, 200], 3) == (run(main()), server.connections)


def test_an_idle_connection_the_server_closed_is_replaced(run: Runner[Any]) -> None:
    """A server that closes each connection after answering, without saying so: the next
    request notices the closed connection and opens a new one, without an error."""

    async def answer_then_hang_up(_: int, __: bytes) -> bytes | None:
        return OK

    class HangUp(Server):
        async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self.requests.append(await self._read_request(reader))
            writer.write(OK)
            await writer.drain()
            writer.close()

    server = HangUp(answer_then_hang_up)

    async def main() -> list[int]:
        client = pool()
        async with server.serving() as url:
            statuses = []
            for _ in range(3):
                statuses.append((await client.request("get", url, {}, b""))[1])
                await asyncio.sleep(0.05)  # the server's FIN arrives
        client.close()
        return statuses

    assert ([200, 200, 200], 3) == (run(main()), server.connections)


def test_a_chunked_answer_is_joined(run: Runner[Any]) -> None:
    """A chunked response body arrives whole."""
    chunked = (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
    )
    body, _, _ = answer_to_one_get(run, chunked)

    assert b'{"a": 1}' == body


def test_headers_are_read_in_any_case_and_repeated_ones_joined(run: Runner[Any]) -> None:
    """As the SDK reads them: `Stripe-Notice` or `stripe-notice`; two Vary headers become one."""
    headers = (
        b"HTTP/1.1 200 OK\r\nStripe-Notice: hi\r\nVary: a\r\nVary: b\r\nContent-Length: 0\r\n\r\n"
    )
    _, _, got = answer_to_one_get(run, headers)

    assert ("hi", "hi", True, "a, b") == (
        got["Stripe-Notice"],
        got.get("stripe-notice"),
        "STRIPE-NOTICE" in got,
        got["vary"],
    )


@pytest.mark.parametrize(
    "answer",
    [None, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", b"not http at all\r\n\r\n"],
    ids=["closed-without-answer", "cut-short", "malformed"],
)
def test_no_whole_answer_is_a_connection_error(run: Runner[Any], answer: bytes | None) -> None:
    """A connection closed before the whole answer, or a malformed one, is a ConnectionError."""

    async def script(_: int, __: bytes) -> bytes | None:
        return answer

    class AnswerThenClose(Server):
        async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.requests.append(await self._read_request(reader))
            if answer is not None:
                writer.write(answer)
                await writer.drain()
            writer.close()

    server = AnswerThenClose(script)

    async def main() -> None:
        client = pool()
        async with server.serving() as url:
            try:
                await client.request("post", url, {}, b"a=1")
            finally:
                client.close()

    with pytest.raises(ConnectionError):
        run(main())


def test_a_slow_answer_times_out_and_its_connection_is_dropped(run: Runner[Any]) -> None:
    """A server slower than the timeout: TimeoutError on time, and the client hangs up at once,
    so a late answer can never be read as the answer to the next request, which gets its own
    connection."""
    hung_up: list[bool] = []

    class SlowFirst(Server):
        async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self.connections:  # the first connection is the slow one
                await super()._handle(reader, writer)
                return
            self.connections += 1
            await self._read_request(reader)
            try:
                hung_up.append(b"" == await asyncio.wait_for(reader.read(), 0.45))
            finally:
                writer.close()

    server = SlowFirst(always_ok)

    async def main() -> tuple[float, bytes]:
        client = pool(timeout=0.2)
        async with server.serving() as url:
            started = time.perf_counter()
            with pytest.raises(TimeoutError):
                await client.request("get", url, {}, b"")
            elapsed = time.perf_counter() - started
            await asyncio.sleep(0.3)
            body, _, _ = await client.request("get", url, {}, b"")
        client.close()
        return elapsed, body

    elapsed, body = run(main())
    assert (True, [True], b"{}") == (0.2 <= elapsed < 0.45, hung_up, body)


@pytest.mark.parametrize("value", ["k\r\nX-Injected: 1", "k\nX-Injected: 1"])
def test_a_header_with_a_line_break_is_refused_before_sending(run: Runner[Any], value: str) -> None:
    """A header value that would smuggle another header is a ValueError; nothing is sent."""
    server = Server(always_ok)

    async def main() -> None:
        client = pool()
        async with server.serving() as url:
            try:
                await client.request("post", url, {"Idempotency-Key": value}, b"a=1")
            finally:
                client.close()

    with pytest.raises(ValueError, match="line break"):
        run(main())
    assert [] == server.requests


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(certificate_authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def server_tls(certificate_authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_https_is_verified_against_the_trusted_certificates(
    run: Runner[Any], server_tls: ssl.SSLContext, ca_file: str
) -> None:
    """Over TLS, a server whose certificate the CA file vouches for is answered, twice on one
    connection."""
    server = Server(always_ok)

    async def main() -> list[int]:
        client = pool(cafile=ca_file)
        async with server.serving(server_tls) as url:
            statuses = [(await client.request("post", url, {}, b"a=1"))[1] for _ in range(2)]
        client.close()
        return statuses

    assert ([200, 200], 1) == (run(main()), server.connections)


def test_https_to_an_untrusted_certificate_is_refused(
    run: Runner[Any], server_tls: ssl.SSLContext
) -> None:
    """With the SDK's own CA bundle (the default), a certificate from an unknown CA fails the
    handshake: ssl.SSLCertVerificationError, an OSError, never a request sent."""
    server = Server(always_ok)

    async def main() -> None:
        client = pool()
        async with server.serving(server_tls) as url:
            try:
                await client.request("post", url, {}, b"a=1")
            finally:
                client.close()

    with pytest.raises(ssl.SSLCertVerificationError):
        run(main())


def test_an_interim_answer_is_skipped_and_never_taken_for_the_next(run: Runner[Any]) -> None:
    """A 103 Early Hints before the final answer: the request gets the final answer, and the
    next request on the same connection gets its own."""
    answers = iter([b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", OK, OK2])

    async def hints_first(_: int, __: bytes) -> bytes:
        if len(server.requests) == 1:
            # The interim and the final answer of the first request, in two writes.
            return next(answers) + next(answers)
        return next(answers)

    server = Server(hints_first)

    async def main() -> list[tuple[bytes, int]]:
        client = pool()
        async with server.serving() as url:
            got = [(await client.request("get", url, {}, b""))[:2] for _ in range(2)]
        client.close()
        return got

    assert [(b"{}", 200), (b"[]", 201)] == run(main())


def test_a_protocol_switch_is_a_connection_error(run: Runner[Any]) -> None:
    """A 101 Switching Protocols is not an answer payflow can use: ConnectionError."""
    upgrade = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )

    with pytest.raises(ConnectionError):
        answer_to_one_get(run, upgrade)


def test_a_body_ended_by_closing_the_connection_is_whole(run: Runner[Any]) -> None:
    """An answer with neither Content-Length nor chunks ends with the connection."""

    class CloseDelimited(Server):
        async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self.requests.append(await self._read_request(reader))
            writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"whole": true}')
            await writer.drain()
            writer.close()

    server = CloseDelimited(always_ok)

    async def main() -> tuple[bytes, int]:
        client = pool()
        async with server.serving() as url:
            body, status, _ = await client.request("get", url, {}, b"")
        client.close()
        return body, status

    assert (b'{"whole": true}', 200) == run(main())


def test_closing_the_pool_mid_request_leaves_no_connection_behind(run: Runner[Any]) -> None:
    """A request that ends after the pool was closed closes its connection instead of keeping
    it idle in a pool nobody will close."""

    async def slow(_: int, __: bytes) -> bytes:
        await asyncio.sleep(0.2)
        return OK

    server = Server(slow)

    async def main() -> tuple[int, bool]:
        client = pool()
        async with server.serving() as url:
            request = asyncio.ensure_future(client.request("get", url, {}, b""))
            await asyncio.sleep(0.05)
            client.close()
            _, status, _ = await request
        return status, any(client._idle.values())

    assert (200, False) == run(main())


def test_requests_beyond_the_cap_wait_for_a_connection(run: Runner[Any]) -> None:
    """With a cap of 2, six concurrent requests are all answered over at most 2 connections."""
    open_now = 0
    most_open = 0

    async def counting(_: int, __: bytes) -> bytes:
        nonlocal open_now, most_open
        open_now += 1
        most_open = max(most_open, open_now)
        await asyncio.sleep(0.05)
        open_now -= 1
        return OK

    server = Server(counting)

    async def main() -> list[int]:
        client = Pool(max_connections=2, timeout=5)
        async with server.serving() as url:
            answers = await asyncio.gather(*(client.request("get", url, {}, b"") for _ in range(6)))
        client.close()
        return [status for _, status, _ in answers]

    assert ([200] * 6, 2, 2) == (run(main()), most_open, server.connections)


def test_the_host_header_never_carries_credentials_from_the_url(run: Runner[Any]) -> None:
    """`http://user:secret@host:port` sends `Host: host:port`, never the user or password."""
    server = Server(always_ok)

    async def main() -> str:
        client = pool()
        async with server.serving() as url:
            port = url.rsplit(":", 1)[1]
            await client.request("get", f"http://user:secret@127.0.0.1:{port}/v1/x", {}, b"")
        client.close()
        return port

    port = run(main())
    assert f"Host: 127.0.0.1:{port}".encode() == server.requests[0].split(b"\r\n")[1]


def test_head_is_refused() -> None:
    """HEAD's answer has a Content-Length and no body: refused rather than waited on."""

    async def main() -> None:
        await pool().request("head", "http://127.0.0.1:9/", {}, b"")

    with pytest.raises(ValueError, match="HEAD"):
        asyncio.run(main())
