"""Webhook deliveries over real HTTP: signed ones wake the poll, the rest are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings, sign
from supervisor_tui.hub.webhooks import MAX_BODY, WebhookServer

SECRET = "dGhpcyBpcyBhIHRlc3Qgc2VjcmV0"  # a test value, not a real secret
NOW = 1_790_000_000.0


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def adapter() -> ZendeskAdapter:
    settings = ZendeskSettings(
        base_url="http://127.0.0.1:9", email="a@example.com", token="t", webhook_secret=SECRET
    )
    return ZendeskAdapter("zendesk", settings, clock=lambda: NOW)


BODY = json.dumps(
    {
        "type": "zen:event-type:ticket.status_changed",
        "subject": "zen:ticket:5158",
        "detail": {"id": "5158", "status": "OPEN"},
        "event": {"current": "SOLVED", "previous": "OPEN"},
        "zendesk_event_version": "2022-11-06",
    }
).encode()


@pytest.fixture
async def server() -> object:
    target = adapter()
    srv = WebhookServer({"zendesk": target}, port=0)
    await srv.start()
    yield srv, target
    await srv.stop()


async def post(port: int, headers: dict[str, str], body: bytes, source: str = "zendesk") -> int:
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"http://127.0.0.1:{port}/webhooks/{source}", headers=headers, content=body
        )
        return r.status_code


async def test_signed_delivery_wakes_the_poll(server: tuple[WebhookServer, ZendeskAdapter]) -> None:
    srv, target = server
    for task in target.tasks:
        task.due_at = NOW + 100
    ts = stamp(NOW - 2)
    headers = {
        "X-Zendesk-Webhook-Signature": sign(SECRET, ts, BODY),
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
    }
    assert await post(srv.port, headers, BODY) == 200
    assert target._hint.is_set()
    due = {t.name: t.due_at for t in target.tasks}
    assert due["tickets"] <= NOW + 6 and due["agents"] <= NOW + 6  # sooner, within the limit
    assert due["directory"] == NOW + 100  # cold data is not polled on a hint
    assert srv.accepted == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", 401),
        ("body changed", 401),
        ("old timestamp", 401),
        ("no signature", 401),
        ("unknown source", 404),
    ],
)
async def test_bad_deliveries_are_refused(
    server: tuple[WebhookServer, ZendeskAdapter], case: str, expected: int
) -> None:
    srv, target = server
    ts = stamp(NOW - (600 if case == "old timestamp" else 1))
    secret = "another-secret" if case == "wrong secret" else SECRET
    headers = {
        "X-Zendesk-Webhook-Signature": sign(secret, ts, BODY),
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
    }
    if case == "no signature":
        del headers["X-Zendesk-Webhook-Signature"]
    body = BODY.replace(b"SOLVED", b"CLOSED") if case == "body changed" else BODY
    source = "nobody" if case == "unknown source" else "zendesk"
    assert await post(srv.port, headers, body, source) == expected
    assert not target._hint.is_set()
    assert srv.refused == 1 and srv.accepted == 0


async def test_oversized_body_is_refused_unread(
    server: tuple[WebhookServer, ZendeskAdapter],
) -> None:
    srv, target = server
    body = b"x" * (MAX_BODY + 1)
    ts = stamp(NOW)
    headers = {
        "X-Zendesk-Webhook-Signature": sign(SECRET, ts, body),
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
    }
    assert await post(srv.port, headers, body) == 413
    assert not target._hint.is_set()


def test_a_source_without_a_secret_takes_no_webhooks() -> None:
    settings = ZendeskSettings(base_url="http://127.0.0.1:9", email="a@example.com", token="t")
    plain = ZendeskAdapter("zendesk", settings, clock=lambda: NOW)
    ts = stamp(NOW)
    status, _ = plain.webhook({"X-Zendesk-Webhook-Signature-Timestamp": ts}, BODY)
    assert status == 404
