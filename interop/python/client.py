"""Run one scenario against a WebSocket echo server with Python's websockets.

    /usr/bin/python3 client.py URL SCENARIO [CA_FILE]

For a wss:// URL, CA_FILE is the PEM certificate of the CA to trust (and the
only one): an ssl.SSLContext made from it verifies the server's chain and
name as usual.

Prints what happened as JSON lines on stdout; the last line is the result.
The Go tests in ../ drive it and compare the results. Written for Debian's
python3-websockets (10.x, the asyncio API) and works with later versions.

Scenarios: text, binary, fragmented, large, deflate, ping, close,
await-close (prints {"open": true}, then the close the server sends).
"""

import asyncio
import hashlib
import json
import ssl
import sys

import websockets


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def pattern(n):
    """n deterministic bytes that do not compress well."""
    out = bytearray()
    block = b"wsserver"
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(block + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


SSL_CONTEXT = None  # for wss://, set by main from CA_FILE


def connect(url, compression=None):
    kwargs = {"ssl": SSL_CONTEXT} if SSL_CONTEXT is not None else {}
    return websockets.connect(url, compression=compression, max_size=None, open_timeout=30, close_timeout=10, **kwargs)


async def text(url):
    async with connect(url) as ws:
        sent = "hello, wsserver ✓ мир"
        await ws.send(sent)
        got = await ws.recv()
    return {"sent": sent, "received": got, "binary": isinstance(got, bytes)}


async def binary(url):
    async with connect(url) as ws:
        sent = bytes(i % 256 for i in range(1024))
        await ws.send(sent)
        got = await ws.recv()
    return {"binary": isinstance(got, bytes), "length": len(got), "equal": got == sent}


async def fragmented(url):
    async with connect(url) as ws:
        # A list is sent as one fragmented message, a frame per item.
        await ws.send(["frag-", "ment-", "ed ✓"])
        t = await ws.recv()
        data = pattern(1000)
        await ws.send([data[:600], data[600:]])
        b = await ws.recv()
    return {"text": t, "textBinary": isinstance(t, bytes), "binaryEqual": b == data, "binaryBinary": isinstance(b, bytes)}


async def large(url):
    async with connect(url) as ws:
        sent = pattern(16 << 20)
        await ws.send(sent)
        got = await ws.recv()
    return {
        "length": len(got),
        "binary": isinstance(got, bytes),
        "sentSha256": hashlib.sha256(sent).hexdigest(),
        "receivedSha256": hashlib.sha256(got).hexdigest(),
    }


async def deflate(url):
    async with connect(url, compression="deflate") as ws:
        big = "compress me please; " * 50000
        msgs = ["a", "small text", big, "after the big one"]
        got = []
        for m in msgs:
            await ws.send(m)
            got.append(await ws.recv())
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
    return {"extensions": extensions, "allEqual": got == msgs, "count": len(got)}


async def ping(url):
    async with connect(url) as ws:
        waiter = await ws.ping(b"probe")
        # websockets resolves the waiter only for a pong with this payload.
        await asyncio.wait_for(waiter, 30)
        await ws.send("after ping")
        after = await ws.recv()
    return {"pong": "probe", "after": after}


async def close(url):
    results = []
    for code, reason in [(1000, "normal"), (4000, "custom bye"), (3001, "")]:
        ws = await connect(url)
        await ws.close(code, reason)
        results.append({"sent": code, "code": ws.close_code, "reason": ws.close_reason})
    return {"closes": results}


async def await_close(url):
    async with connect(url) as ws:
        await ws.send("ready?")
        await ws.recv()
        emit({"open": True})
        await ws.wait_closed()
        return {"code": ws.close_code, "reason": ws.close_reason}


SCENARIOS = {
    "text": text,
    "binary": binary,
    "fragmented": fragmented,
    "large": large,
    "deflate": deflate,
    "ping": ping,
    "close": close,
    "await-close": await_close,
}


def main():
    global SSL_CONTEXT
    url, scenario = sys.argv[1], sys.argv[2]
    try:
        if len(sys.argv) > 3:
            # Verifies the chain against this CA only, and the host name.
            SSL_CONTEXT = ssl.create_default_context(cafile=sys.argv[3])
        result = asyncio.run(asyncio.wait_for(SCENARIOS[scenario](url), 90))
    except Exception as e:  # reported to the Go test, which fails
        emit({"error": f"{type(e).__name__}: {e}"})
        sys.exit(1)
    emit(result)


if __name__ == "__main__":
    main()
