"""The fault matrix: the same fault gives the same payflow error from both twins, each fault
produced by a real local server or proxy, the request made through the real SDK and transport."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import stripe
import trustme

import payflow
from payflow_sandbox import Sandbox
from tests.payflow.servers import ForwardProxy, answer, forward_proxy, read_request, reset, scripted
from tests.payflow_asgi.asgi_support import closed_port

KEY = "sk_test_payflow"
TIMEOUT = 0.5
Twin = Callable[[payflow.Gateway], payflow.Customer]


def sync_twin(gw: payflow.Gateway) -> payflow.Customer:
    with gw:
        return payflow.create_customer(gw, email="a@example.com")


def async_twin(gw: payflow.Gateway) -> payflow.Customer:
    async def create() -> payflow.Customer:
        async with gw:
            return await payflow.create_customer_async(gw, email="a@example.com")

    return asyncio.run(create())


@pytest.fixture(params=[sync_twin, async_twin], ids=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> Twin:
    chosen: Twin = request.param
    return chosen


def outcome(twin: Twin, api_base: str, proxy: str | None = None) -> type[BaseException] | str:
    """The error class a call raised, or the id of the customer it created."""
    try:
        gw = payflow.Gateway(
            KEY, api_base=api_base, timeout=TIMEOUT, max_network_retries=0, proxy=proxy
        )
        return twin(gw).id
    except Exception as exc:  # the class is the outcome under test
        return type(exc)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The SDK's bundle plus the test CA, named by `stripe.ca_bundle_path`."""
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(Path(stripe.ca_bundle_path).read_bytes() + ca.cert_pem.bytes())
    monkeypatch.setattr(stripe, "ca_bundle_path", str(bundle))


def tls_server(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(answer(200))
    await writer.drain()


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.sleep(TIMEOUT * 6)


async def reset_mid_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(answer(200)[:-10])
    await writer.drain()
    reset(writer)


async def malformed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 OK what\r\nno colon here\r\n\r\n")
    await writer.drain()


@pytest.mark.usefixtures("no_proxy_env")
class TestFaults:
    def test_connection_refused(self, twin: Twin) -> None:
        """Nothing listening: StripeUnavailable."""
        url = f"http://127.0.0.1:{closed_port()}"
        assert payflow.StripeUnavailable is outcome(twin, url)

    def test_reset_mid_answer(self, twin: Twin) -> None:
        """A connection reset halfway through the answer: StripeUnavailable."""
        with scripted(reset_mid_answer) as url:
            assert payflow.StripeUnavailable is outcome(twin, url)

    def test_hang_past_the_timeout(self, twin: Twin) -> None:
        """No answer within the timeout: StripeTimeout."""
        with scripted(hang) as url:
            assert payflow.StripeTimeout is outcome(twin, url)

    def test_malformed_answer(self, twin: Twin) -> None:
        """An answer that is not HTTP: StripeUnavailable."""
        with scripted(malformed) as url:
            assert payflow.StripeUnavailable is outcome(twin, url)

    def test_untrusted_certificate(self, twin: Twin, ca: trustme.CA) -> None:
        """A certificate no trusted root signed: StripeUnavailable."""
        with scripted(ok, tls=tls_server(ca)) as url:
            assert payflow.StripeUnavailable is outcome(twin, url)

    @pytest.mark.usefixtures("trusted")
    def test_certificate_trusted_through_the_sdk_s_bundle(self, twin: Twin, ca: trustme.CA) -> None:
        """A root added through `stripe.ca_bundle_path`, as with the SDK's own clients, is
        trusted by both twins."""
        with scripted(ok, tls=tls_server(ca)) as url:
            assert "cus_1" == outcome(twin, url)

    @pytest.mark.usefixtures("trusted")
    def test_dead_https_proxy_from_the_environment(
        self, twin: Twin, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """HTTPS_PROXY that does not answer, for an https Stripe: StripeUnavailable."""
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
        with scripted(ok, tls=tls_server(ca)) as url:
            assert payflow.StripeUnavailable is outcome(twin, url)

    @pytest.mark.parametrize(
        "content", [None, b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
    )
    def test_unusable_ca_bundle(
        self, twin: Twin, content: bytes | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A CA bundle that is missing, or holds a malformed certificate: ConfigurationError
        when the gateway is built."""
        bundle = tmp_path / "roots.pem"
        if content is not None:
            bundle.write_bytes(content)
        monkeypatch.setattr(stripe, "ca_bundle_path", str(bundle))
        with scripted(ok) as url:
            assert payflow.ConfigurationError is outcome(twin, url)

    @pytest.mark.parametrize(
        "base", ["notaurl", "127.0.0.1:8420", "ftp://x", "http://", "http://u:p@127.0.0.1:1"]
    )
    def test_url_that_is_not_http(self, twin: Twin, base: str) -> None:
        """An API base that is not an http(s) URL with a host: ConfigurationError."""
        assert payflow.ConfigurationError is outcome(twin, base)

    def test_dead_explicit_proxy(self, twin: Twin) -> None:
        """A proxy given to the gateway that does not answer: StripeUnavailable."""
        with scripted(ok) as url:
            proxy = f"http://127.0.0.1:{closed_port()}"
            assert payflow.StripeUnavailable is outcome(twin, url, proxy=proxy)

    @pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
    def test_dead_proxy_from_the_environment(
        self, twin: Twin, variable: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A proxy from the environment that does not answer: StripeUnavailable (the async twin
        used to go direct)."""
        monkeypatch.setenv(variable, f"http://127.0.0.1:{closed_port()}")
        with scripted(ok) as url:
            assert payflow.StripeUnavailable is outcome(twin, url)

    def test_no_proxy_goes_direct(self, twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
        """NO_PROXY naming the host: straight to it, past a dead HTTP_PROXY."""
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with scripted(ok) as url:
            assert "cus_1" == outcome(twin, url)

    def test_answer_without_a_fault(self, twin: Twin) -> None:
        """The control row: the same server, answering, gives the customer."""
        with scripted(ok) as url:
            assert "cus_1" == outcome(twin, url)


def proxied(proxy: ForwardProxy, request: str = "POST ") -> int:
    """How many requests to create a customer (or tunnels) went through the proxy: its access
    log has a line for each once its connection closes."""
    pattern = re.escape(request) + (r"\S+/v1/customers" if request == "POST " else "")
    deadline = time.monotonic() + 10
    while not (count := len(re.findall(pattern, proxy.seen()))):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return count


@pytest.mark.usefixtures("no_proxy_env")
class TestForwardProxy:
    def test_explicit_proxy_carries_the_request(self, twin: Twin, sandbox: Sandbox) -> None:
        """Gateway(proxy=...): the request reaches Stripe through the proxy, once."""
        with forward_proxy() as proxy:
            created = outcome(twin, sandbox.url, proxy=proxy.url)
            assert (True, 1) == (str(created).startswith("cus_"), proxied(proxy))

    @pytest.mark.usefixtures("trusted")
    def test_https_proxy_tunnels_an_https_request(
        self, twin: Twin, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """HTTPS_PROXY and an https Stripe: one CONNECT tunnel through the proxy, the
        certificate checked end to end."""
        with forward_proxy() as proxy, scripted(ok, tls=tls_server(ca)) as url:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            created = outcome(twin, url)
            assert ("cus_1", 1) == (created, proxied(proxy, "CONNECT 127.0.0.1"))

    def test_environment_proxy_carries_the_request(
        self, twin: Twin, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """HTTP_PROXY: the request reaches Stripe through the proxy, once."""
        with forward_proxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            created = outcome(twin, sandbox.url)
            assert (True, 1) == (str(created).startswith("cus_"), proxied(proxy))
