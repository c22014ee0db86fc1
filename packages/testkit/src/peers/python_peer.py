#!/usr/bin/env python3
"""A scripted WebSocket peer built on Python's `websockets` library (a peer we did not write).

  server --port 0 [--subprotocols a,b] [--compression on|off] [--max-size N] [--exit-on-stdin-eof]
      Echo server on 127.0.0.1. Prints `LISTENING <port>` once ready. Echoes every message with
      its type; the text message `close:<code>:<reason>` makes it close with that code/reason
      instead. Exits on SIGTERM/SIGINT (and on stdin EOF with --exit-on-stdin-eof).

  client --url URL [--subprotocols a,b] [--compression on|off] [--max-size N]
      Reads a JSON script from stdin:
        {"send": [{"type": "text", "data": "..."} | {"type": "binary", "base64": "..."}
                  | {"type": "binary_size", "size": N, "seed": S}],
         "expect": N, "close": {"code": C, "reason": R} | null}
      Connects, sends everything, receives `expect` messages, then closes with `close` or (when it
      is null) keeps receiving until the server closes. Prints one JSON line:
        {"protocol", "extensions", "received": [{"type": "text", "data"}
                                               | {"type": "binary", "size", "sha256"}],
         "close_code", "close_reason", "error"}

Works with the `websockets.asyncio` API (websockets >= 13) and falls back to the legacy API
(Debian bookworm ships 10.4).
"""

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import sys

import websockets
from websockets.exceptions import ConnectionClosed

try:  # websockets >= 13
    from websockets.asyncio.client import connect as ws_connect
    from websockets.asyncio.server import serve as ws_serve

    API = "asyncio"
except ImportError:  # legacy API (websockets < 13)
    ws_connect = websockets.connect
    ws_serve = websockets.serve
    API = "legacy"

DEFAULT_MAX_SIZE = 64 * 1024 * 1024


def pattern_bytes(size, seed):
    # (i * 31 + seed) & 255 has period 256, so repeat one period.
    period = bytes(((i * 31 + seed) & 255) for i in range(256))
    return (period * (size // 256 + 1))[:size]


def parse_subprotocols(value):
    if not value:
        return None
    return [p.strip() for p in value.split(",") if p.strip()]


def compression_arg(value):
    return "deflate" if value == "on" else None


def common_kwargs(args):
    kwargs = {
        "compression": compression_arg(args.compression),
        "max_size": args.max_size if args.max_size > 0 else None,
    }
    subprotocols = parse_subprotocols(args.subprotocols)
    if subprotocols:
        kwargs["subprotocols"] = subprotocols
    return kwargs


def summarise(message):
    if isinstance(message, str):
        return {"type": "text", "data": message}
    data = bytes(message)
    return {"type": "binary", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def response_extensions(ws):
    response = getattr(ws, "response", None)
    headers = getattr(response, "headers", None) if response is not None else None
    if headers is None:
        headers = getattr(ws, "response_headers", None)
    if headers is None:
        return None
    value = headers.get("Sec-WebSocket-Extensions")
    return value or None


def close_info(ws, exc=None):
    code = getattr(ws, "close_code", None)
    reason = getattr(ws, "close_reason", None)
    if code is None and exc is not None and getattr(exc, "rcvd", None) is not None:
        code, reason = exc.rcvd.code, exc.rcvd.reason
    if code is None:
        return None, None
    return code, reason or ""


def outgoing(message):
    kind = message.get("type")
    if kind == "text":
        return message["data"]
    if kind == "binary":
        return base64.b64decode(message["base64"])
    if kind == "binary_size":
        return pattern_bytes(int(message["size"]), int(message.get("seed", 0)))
    raise ValueError(f"unknown message type {kind!r}")


async def run_client(args):
    script = json.loads(sys.stdin.read() or "{}")
    messages = script.get("send") or []
    expect = int(script.get("expect") or 0)
    close = script.get("close")
    result = {
        "protocol": None,
        "extensions": None,
        "received": [],
        "close_code": None,
        "close_reason": None,
        "error": None,
    }
    ws = None
    try:
        ws = await ws_connect(args.url, **common_kwargs(args))
        result["protocol"] = ws.subprotocol
        result["extensions"] = response_extensions(ws)
        for message in messages:
            await ws.send(outgoing(message))
        try:
            while len(result["received"]) < expect:
                result["received"].append(summarise(await ws.recv()))
        except ConnectionClosed as exc:
            result["error"] = (
                f"connection closed after {len(result['received'])} of {expect} messages: {exc}"
            )
            result["close_code"], result["close_reason"] = close_info(ws, exc)
            return result
        if close is not None:
            await ws.close(int(close["code"]), str(close.get("reason", "")))
            result["close_code"], result["close_reason"] = close_info(ws)
        else:
            try:
                while True:
                    result["received"].append(summarise(await ws.recv()))
            except ConnectionClosed as exc:
                result["close_code"], result["close_reason"] = close_info(ws, exc)
    except Exception as exc:  # report, do not crash: the caller wants the JSON line
        result["error"] = f"{type(exc).__name__}: {exc}"
        if ws is not None:
            result["close_code"], result["close_reason"] = close_info(ws, exc)
    return result


async def echo(ws, *_path):
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("close:"):
                parts = message.split(":", 2)
                code = int(parts[1]) if len(parts) > 1 and parts[1] else 1000
                reason = parts[2] if len(parts) > 2 else ""
                await ws.close(code, reason)
                return
            await ws.send(message)
    except ConnectionClosed:
        pass


async def run_server(args):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def request_stop(*_):
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop)

    if args.exit_on_stdin_eof:
        stdin_fd = sys.stdin.fileno()

        def on_stdin():
            try:
                data = os.read(stdin_fd, 65536)
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(stdin_fd)
                request_stop()

        loop.add_reader(stdin_fd, on_stdin)

    server = await ws_serve(echo, "127.0.0.1", args.port, **common_kwargs(args))
    port = next(iter(server.sockets)).getsockname()[1]
    print(f"LISTENING {port}", flush=True)
    try:
        await stop
    finally:
        server.close()
        await server.wait_closed()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    for name in ("server", "client"):
        mode = modes.add_parser(name)
        mode.add_argument("--subprotocols", default="")
        mode.add_argument("--compression", choices=("on", "off"), default="on")
        mode.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE, help="0 = unlimited")
        if name == "server":
            mode.add_argument("--port", type=int, default=0)
            mode.add_argument("--exit-on-stdin-eof", action="store_true")
        else:
            mode.add_argument("--url", required=True)
    parser.add_argument("--version", action="version", version=f"websockets {websockets.__version__} ({API})")
    args = parser.parse_args()

    if args.mode == "server":
        asyncio.run(run_server(args))
    else:
        result = asyncio.run(run_client(args))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
