"""The webhook endpoint against hostile peers, over real HTTP on loopback: slow and endless
requests, floods, headers that are not UTF-8, replays, timestamps without a zone, and a fuzz
of random requests. A real signed delivery is still answered and acted on."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_tui.adapters.polling import ts
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, sign
from supervisor_tui.hub import webhooks
from supervisor_tui.hub.webhooks import WebhookServer

from .doors import LoopThread, fuzz_examples, tracebacks
from .test_webhooks import BODY, NOW, SECRET, adapter, stamp

CAP = 60  # the test's caps; the slow attackers stay under them, as one attacker would
ATTACKERS = 40


def signed(body: bytes = BODY, at: float = NOW - 1) -> dict[str, str]:
    ts_ = stamp(at)
    return {
        "X-Zendesk-Webhook-Signature": sign(SECRET, ts_, body),
        "X-Zendesk-Webhook-Signature-Timestamp": ts_,
    }


@pytest.fixture
async def door(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[WebhookServer, ZendeskAdapter]]:
    monkeypatch.setattr(webhooks, "HEADER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(webhooks, "BODY_TIMEOUT_S", 0.5)
    target = adapter()
    srv = WebhookServer({"zendesk": target}, port=0, per_peer=CAP, max_connections=CAP)
    await srv.start()
    yield srv, target
    await srv.stop()


async def post(port: int, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    async with httpx.AsyncClient(timeout=15) as client:
        return await client.post(
            f"http://127.0.0.1:{port}/webhooks/zendesk", headers=headers, content=body
        )


async def raw(port: int, request: bytes, bound_s: float = 15.0) -> bytes:
    """Send these bytes, read until the server closes (bounded)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), bound_s)
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0


async def test_slow_attackers_are_cut_off_and_a_real_delivery_is_answered(
    door: tuple[WebhookServer, ZendeskAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    """Before: slow or endless requests were held for ever (the file descriptors ran out)."""
    srv, target = door
    attackers = []
    for i in range(ATTACKERS):
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        if i % 2:  # slowloris: headers that never end
            writer.write(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        else:  # an endless body: headers done, 100 KB announced, 10 bytes sent
            head = b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
            writer.write(head + b"0123456789")
        await writer.drain()
        attackers.append((reader, writer))
    answer = await post(srv.port, signed())
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert target._hint.is_set()  # acted on: the poll comes sooner
    # every attacker is closed by the server (a 408, or the body's 408 JSON), none by us
    for reader, writer in attackers:
        got = await asyncio.wait_for(reader.read(), 15)
        assert status_of(got) == 408, got[:80]
        writer.close()
    assert srv.timed_out == ATTACKERS
    await asyncio.wait_for(_drained(srv), 15)
    assert not tracebacks(caplog.records)


async def _drained(srv: WebhookServer) -> None:
    while srv.limits.count():
        await asyncio.sleep(0.02)


async def test_over_the_cap_a_connection_is_refused_with_503(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    target = adapter()
    srv = WebhookServer({"zendesk": target}, port=0, per_peer=5, max_connections=100)
    await srv.start()
    try:
        held = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(5)]
        await asyncio.wait_for(_counted(srv, 5), 15)
        for _ in range(3):
            assert status_of(await raw(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")) == 503
        assert srv.limits.refused == 3
        lines = [r for r in caplog.records if "refused a connection from 127.0.0.1" in r.message]
        assert len(lines) == 1
        for _, writer in held:
            writer.close()
        await asyncio.wait_for(_drained(srv), 15)
        assert (await post(srv.port, signed())).status_code == 200
    finally:
        await srv.stop()
    assert not tracebacks(caplog.records)


async def _counted(srv: WebhookServer, n: int) -> None:
    while srv.limits.count() < n:
        await asyncio.sleep(0.02)


async def test_a_header_that_is_not_utf8_is_a_400_not_a_500(
    door: tuple[WebhookServer, ZendeskAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    """Before: 500 and a traceback (the signature check encoded the header)."""
    srv, target = door
    good = signed()
    for signature, timestamp in (
        (b"\xff\xfe\xfd", good["X-Zendesk-Webhook-Signature-Timestamp"].encode()),
        (good["X-Zendesk-Webhook-Signature"].encode(), b"2026-09-21T10:00:00\xffZ"),
        ("é".encode(), good["X-Zendesk-Webhook-Signature-Timestamp"].encode()),  # UTF-8, not ASCII
    ):
        request = (
            b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\n"
            b"X-Zendesk-Webhook-Signature: " + signature + b"\r\n"
            b"X-Zendesk-Webhook-Signature-Timestamp: " + timestamp + b"\r\n"
            b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
        )
        assert status_of(await raw(srv.port, request)) in (400, 401)
    assert not target._hint.is_set()
    assert not tracebacks(caplog.records)


async def test_a_replayed_delivery_is_answered_but_does_nothing(
    door: tuple[WebhookServer, ZendeskAdapter],
) -> None:
    """Before: the same signed delivery, sent again within its 5 minutes, woke the poll again."""
    srv, target = door
    headers = signed()
    first = await post(srv.port, headers)
    assert first.status_code == 200 and first.json() == {"status": "ok"}
    target._hint.clear()
    again = await post(srv.port, headers)
    # 200 so Zendesk does not retry it (it retries a 409); no work done
    assert again.status_code == 200 and again.json() == {"status": "already seen; ignored"}
    assert not target._hint.is_set()
    assert target.seen_webhooks.replays == 1
    # a new delivery (another timestamp, so another signature) is taken
    assert (await post(srv.port, signed(at=NOW - 2))).json() == {"status": "ok"}
    assert target._hint.is_set()


def test_seen_deliveries_forget_after_their_time_and_stay_bounded() -> None:
    from supervisor_tui.adapters.deliveries import SeenDeliveries

    now = [0.0]
    seen = SeenDeliveries(600, lambda: now[0], most=100)
    assert seen.first_time("a") and not seen.first_time("a")
    now[0] = 601
    assert seen.first_time("a")  # expired: its timestamp is too old to pass anyway
    for i in range(1_000):
        seen.first_time(f"s{i}")
    assert len(seen) == 100


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's local time is New York's (so local and UTC differ)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_a_timestamp_without_a_zone_is_refused_never_read_as_local_time(
    door: tuple[WebhookServer, ZendeskAdapter], new_york: None
) -> None:
    """Before: a zoneless signature timestamp was read as this machine's local time."""
    srv, target = door
    zoneless = datetime.fromtimestamp(NOW, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    headers = {
        "X-Zendesk-Webhook-Signature": sign(SECRET, zoneless, BODY),
        "X-Zendesk-Webhook-Signature-Timestamp": zoneless,
    }
    answer = await post(srv.port, headers)
    assert answer.status_code == 400 and answer.json() == {"status": "timestamp without a zone"}
    assert not target._hint.is_set()


def test_a_helpdesk_time_without_a_zone_is_utc_never_local(new_york: None) -> None:
    """Zendesk and Jira document UTC (or an offset): a zoneless time is read as UTC."""
    from supervisor_tui.adapters.jsm.parse import jira_ts

    utc = datetime(2026, 9, 21, 10, 0, tzinfo=UTC).timestamp()
    assert ts("2026-09-21T10:00:00") == ts("2026-09-21T10:00:00Z") == utc
    assert jira_ts("2026-09-21T10:00:00.000") == utc
    assert jira_ts("2026-09-21T12:00:00.000+0200") == utc


# -- fuzz: random requests over a real socket ----------------------------------------------

_token = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12
)
_bytes_line = st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_header_name = st.sampled_from(
    [
        b"X-Zendesk-Webhook-Signature",
        b"X-Zendesk-Webhook-Signature-Timestamp",
        b"Content-Type",
        b"Host",
        b"Connection",
        b"X-Supervisor-Webhook-Secret",
        b"Accept-Encoding",
        b"Cookie",
    ]
) | st.from_regex(rb"\AX-[A-Za-z0-9-]{1,20}\Z")
_header_value = _bytes_line | st.text(max_size=60).map(
    lambda t: t.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")
)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(
        st.sampled_from([b"POST", b"GET", b"PUT", b"DELETE", b"HEAD", b"PATCH"])
        | _token.map(str.encode)
    )
    path = draw(
        st.sampled_from(
            [b"/webhooks/zendesk", b"/webhooks/nobody", b"/webhooks/", b"/", b"/webhooks/zendesk/x"]
        )
        | _bytes_line.map(lambda b: b"/webhooks/" + b.replace(b" ", b"%20"))
    )
    body = draw(st.binary(max_size=600) | st.just(BODY))
    headers = draw(st.lists(st.tuples(_header_name, _header_value), max_size=6))
    if draw(st.booleans()):  # sometimes a correct signature for this body
        stamp_ = stamp(NOW - 1)
        headers += [
            (b"X-Zendesk-Webhook-Signature", sign(SECRET, stamp_, body).encode()),
            (b"X-Zendesk-Webhook-Signature-Timestamp", stamp_.encode()),
        ]
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def door_thread() -> Iterator[tuple[WebhookServer, ZendeskAdapter, LoopThread]]:
    loop = LoopThread()
    target = adapter()
    srv = WebhookServer({"zendesk": target}, port=0)
    loop.run(srv.start())
    yield srv, target, loop
    loop.run(srv.stop())
    loop.close()


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@settings(
    max_examples=fuzz_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
def test_fuzz_webhook_requests_get_2xx_or_4xx_never_500(
    door_thread: tuple[WebhookServer, ZendeskAdapter, LoopThread],
    caplog: pytest.LogCaptureFixture,
    request: bytes,
) -> None:
    caplog.clear()  # one example's records (the fixture spans them all)
    caplog.set_level(logging.DEBUG)  # a traceback logged at any level counts
    srv, _, _ = door_thread
    answer = exchange(srv.port, request)
    assert 200 <= status_of(answer) < 500, answer[:200]
    assert not tracebacks(caplog.records)


def test_after_the_fuzz_a_signed_delivery_still_works(
    door_thread: tuple[WebhookServer, ZendeskAdapter, LoopThread],
) -> None:
    srv, target, _ = door_thread
    target._hint.clear()
    body = BODY.replace(b"5158", b"after-the-fuzz")
    headers = signed(body, at=NOW - 3)
    request = (
        b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\n"
        + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )
    answer = exchange(srv.port, request)
    assert status_of(answer) == 200 and answer.endswith(b'{"status": "ok"}')
    assert target._hint.is_set()
