"""The attacks on the network doors, run by hand (not part of ``make bench``): a hub or a
webhook endpoint in a child process on loopback, attackers from this one, and the child's
resident memory before, during and after.

    python -m benchmarks.attack_doors hub-halfframes [--src OTHER_CHECKOUT/src] [-n 1000]
    python -m benchmarks.attack_doors webhook-slowloris [--src ...] [-n 1000]

``--src`` runs the door from another checkout (the code before a fix) for a comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HUB_CHILD = """
import asyncio, sys, time
from pathlib import Path
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.protocol import TokenEntry, hash_token
from supervisor_tui.hub.server import Hub
from supervisor_tui.store import SQLiteStore

async def main():
    store = SQLiteStore(Path(sys.argv[1]))
    hub = Hub(store, [TokenEntry("Wall", "view", hash_token("view-token"))], FloorTargets(),
              time.time, port=0)
    print(await hub.start(), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

WEBHOOK_CHILD = """
import asyncio, time
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.hub.webhooks import WebhookServer

async def main():
    settings = ZendeskSettings(base_url="http://127.0.0.1:9", email="a@example.com", token="t",
                               webhook_secret="attack-test-secret")
    target = ZendeskAdapter("zendesk", settings)
    srv = WebhookServer({"zendesk": target}, port=0)
    print(await srv.start(), flush=True)
    while True:
        await asyncio.sleep(0.2)
        if target._hint.is_set():
            print("hint", flush=True)
            target._hint.clear()

asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def child(code: str, src: str | None, *args: str) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def report(label: str, pid: int) -> None:
    print(f"{label:<40} RSS {rss_mb(pid):7.1f} MB   open fds {open_fds(pid)}", flush=True)


async def handshake(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def count_closed(conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> int:
    """How many of these the other side has closed (their stream is at its end), now."""

    async def closed(reader: asyncio.StreamReader) -> bool:
        try:
            await asyncio.wait_for(reader.read(), 0.5)  # to the end: returns once closed
            return True
        except TimeoutError:
            return False
        except OSError:
            return True

    return sum(await asyncio.gather(*(closed(reader) for reader, _ in conns)))


async def hub_halfframes(port: int, pid: int, n: int) -> None:
    declared = 1 << 20
    header = b"\x81" + bytes([0x80 | 127]) + declared.to_bytes(8, "big") + b"\0\0\0\0"
    conns = []
    failed = 0
    for _ in range(n):
        try:
            reader, writer = await handshake(port)
        except (OSError, asyncio.IncompleteReadError):
            failed += 1
            continue
        writer.write(header + b"x" * (declared - 1))  # all but the last byte, then stall
        conns.append((reader, writer))
    await asyncio.sleep(3)
    report(f"during: {len(conns)} half-frames ({failed} not opened)", pid)
    print(f"  closed by the hub within 3 s: {await count_closed(conns)} of {len(conns)}")
    for _, writer in conns:
        writer.close()
    await asyncio.sleep(10)
    report("10 s after the attackers left", pid)


async def real_webhook(port: int) -> str:
    import hashlib
    import hmac
    from datetime import UTC, datetime

    body = json.dumps({"type": "zen:event-type:ticket.status_changed"}).encode()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(b"attack-test-secret", stamp.encode() + body, hashlib.sha256).digest()
    head = (
        f"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        f"X-Zendesk-Webhook-Signature: {base64.b64encode(mac).decode()}\r\n"
        f"X-Zendesk-Webhook-Signature-Timestamp: {stamp}\r\nConnection: close\r\n\r\n"
    )
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        writer.write(head.encode() + body)
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answer.split(b"\r\n", 1)[0].decode() + " " + answer.rsplit(b"\r\n", 1)[-1].decode()
    except (OSError, TimeoutError) as exc:
        return f"no answer ({type(exc).__name__})"


async def webhook_slowloris(port: int, pid: int, n: int) -> None:
    conns = []
    failed = 0
    for i in range(n):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            failed += 1
            continue
        if i % 2:
            writer.write(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\n")
        else:
            writer.write(
                b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n"
            )
        conns.append((reader, writer))
    await asyncio.sleep(1)
    report(f"during: {len(conns)} slow requests ({failed} not opened)", pid)
    print(f"  a real signed webhook during the attack: {await real_webhook(port)}")
    await asyncio.sleep(12)
    print(f"  attackers closed by the server 13 s in: {await count_closed(conns)} of {len(conns)}")
    report("13 s in", pid)
    print(f"  a real signed webhook now: {await real_webhook(port)}")
    for _, writer in conns:
        writer.close()
    await asyncio.sleep(3)
    report("after the attackers left", pid)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("attack", choices=["hub-halfframes", "webhook-slowloris"])
    parser.add_argument("--src", help="run the door from this src directory")
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.attack == "hub-halfframes":
            proc, port = child(HUB_CHILD, args.src, str(Path(tmp) / "floor.db"))
        else:
            proc, port = child(WEBHOOK_CHILD, args.src)
        try:
            time.sleep(1)
            report("before", proc.pid)
            attack = hub_halfframes if args.attack == "hub-halfframes" else webhook_slowloris
            asyncio.run(attack(port, proc.pid, args.n))
            print(f"  the door is {'up' if proc.poll() is None else 'DOWN'}")
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
