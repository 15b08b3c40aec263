#!/usr/bin/env python3
"""A Zoom WebSocket event client in Python (package "websockets"), written against zoommock.

    python3 client.py flow    run the whole protocol once against a mock; exit 0 when every answer
                              is right (a self-test; see ../README.md)

Configured only by environment variables, as a service in docker-compose would be:
    ZOOM_TOKEN_URL      e.g. http://zoommock:9876/oauth/token (real Zoom: https://zoom.us/oauth/token)
    ZOOM_WS_URL         e.g. ws://zoommock:9876/ws?subscriptionId=ID (the app page's URL, without the token)
    ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, ZOOM_ACCOUNT_ID, ZOOM_SECRET_TOKEN
    MOCK_ADMIN_URL      the mock's admin API, e.g. http://zoommock:9876/_mock
    MOCK_ADMIN_TOKEN    the mock's --admin-token (needed from another container)

Works with websockets 10.4 (Debian 12's python3-websockets) and later; standard library otherwise.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import websockets

HEARTBEAT = '{"module":"heartbeat"}'
HEARTBEAT_REPLY = '{"module":"heartbeat","success":true,"content":"live","header":{}}'
TIMEOUT = 10.0


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def check(cond, what):
    if not cond:
        raise AssertionError(f"check failed: {what}")


def http(method, url, headers, body=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def token(grant):
    """Exchange the app's credentials for an access token. account_credentials sends its parameters
    in the query string and client_credentials in a form body: real clients do both."""
    basic = base64.b64encode(f"{env('ZOOM_CLIENT_ID')}:{env('ZOOM_CLIENT_SECRET')}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    url, body = env("ZOOM_TOKEN_URL"), None
    if grant == "account_credentials":
        url += "?" + urllib.parse.urlencode({"grant_type": grant, "account_id": env("ZOOM_ACCOUNT_ID")})
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode({"grant_type": grant}).encode()
    status, text = http("POST", url, headers, body)
    check(status == 200, f"token ({grant}): HTTP {status}: {text}")
    t = json.loads(text)
    check(isinstance(t.get("access_token"), str) and t["access_token"], f"token ({grant}): access_token is a string")
    check(t.get("token_type") == "bearer", f"token ({grant}): token_type is \"bearer\", got {t.get('token_type')!r}")
    check(isinstance(t.get("expires_in"), int), f"token ({grant}): expires_in is a number")
    check(isinstance(t.get("scope"), str), f"token ({grant}): scope is a string")
    return t["access_token"]


def admin(method, path, payload=None):
    headers = {}
    if os.environ.get("MOCK_ADMIN_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["MOCK_ADMIN_TOKEN"]
    body = None
    if payload is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(payload).encode()
    status, text = http(method, env("MOCK_ADMIN_URL") + path, headers, body)
    check(200 <= status < 300, f"{method} {path}: HTTP {status}: {text}")
    return json.loads(text)


def verify_signature(frame):
    """The webhook rule: "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + content))."""
    ts = frame["header"]["x-zm-request-timestamp"]
    mac = hmac.new(env("ZOOM_SECRET_TOKEN").encode(), f"v0:{ts}:{frame['content']}".encode(), hashlib.sha256)
    return hmac.compare_digest("v0=" + mac.hexdigest(), str(frame["header"]["x-zm-signature"]))


async def recv(ws, what):
    try:
        return await asyncio.wait_for(ws.recv(), TIMEOUT)
    except asyncio.TimeoutError:
        raise AssertionError(f"check failed: {what} within {TIMEOUT} s") from None


async def connect(grant):
    # Zoom's clients append &access_token= to the URL shown on the app page, unencoded.
    ws = await websockets.connect(f"{env('ZOOM_WS_URL')}&access_token={token(grant)}", open_timeout=TIMEOUT)
    hello = json.loads(await recv(ws, "build_connection"))
    check(hello.get("module") == "build_connection" and hello.get("success") is True, f"build_connection success, got {hello}")
    return ws


async def heartbeat(ws):
    await ws.send(HEARTBEAT)
    reply = await recv(ws, "the heartbeat reply")
    check(reply == HEARTBEAT_REPLY, f"heartbeat reply is exactly {HEARTBEAT_REPLY}, got {reply}")


async def emit_and_receive(ws, topic):
    sent = {"event": "meeting.started", "payload": {"account_id": env("ZOOM_ACCOUNT_ID"), "object": {"id": "84512093377", "topic": topic}}}
    res = admin("POST", "/events", sent)
    check(res.get("delivered") == 1 and res.get("dropped") is False, f"the mock delivered the event once: {res}")
    text = await recv(ws, "the event")
    frame = json.loads(text)
    check(frame.get("module") == "message", f"a message frame, got {text}")
    check("success" not in frame, "message frames have no success key")
    check(isinstance(frame.get("content"), str), "content is a JSON string, not an object")
    check(verify_signature(frame), f"x-zm-signature verifies with the secret token: {text}")
    event = json.loads(frame["content"])
    check(event["event"] == "meeting.started" and event["payload"]["object"]["topic"] == topic, f"the emitted event, got {frame['content']}")
    check(isinstance(event.get("event_ts"), int), "event_ts is a number of milliseconds")
    check(frame["header"]["x-zm-trackingid"] == res["trackingIds"][0], "x-zm-trackingid is the one the admin API reported")
    check(frame["header"]["clientId"] == env("ZOOM_CLIENT_ID"), "header.clientId is the app")


async def wait_closed(ws):
    """Return the close code and reason the server sent."""
    try:
        while True:
            await recv(ws, "the close")
    except websockets.exceptions.ConnectionClosed as err:
        rcvd = getattr(err, "rcvd", None)
        if rcvd is not None:
            return rcvd.code, rcvd.reason
        return err.code, err.reason  # websockets before 10


async def flow():
    def step(s):
        print(f"python: {s}", flush=True)

    ws = await connect("account_credentials")
    step("token (account_credentials) and build_connection ok")
    await heartbeat(ws)
    step("heartbeat reply exact")
    await emit_and_receive(ws, "from python")
    step("event received, signature verified")

    port = ws.local_address[1]
    mine = [c for c in admin("GET", "/connections") if c["remoteAddr"].endswith(f":{port}")]
    check(len(mine) == 1, f"GET /_mock/connections lists this client (local port {port})")
    admin("POST", f"/connections/{mine[0]['id']}/close", {"code": 1011, "reason": "python test close"})
    code, reason = await wait_closed(ws)
    check((code, reason) == (1011, "python test close"), f"close 1011 \"python test close\", got {code} {reason!r}")
    step(f"forced close received: {code} {reason}")

    ws = await connect("client_credentials")
    step("reconnected with a client_credentials token")
    await heartbeat(ws)
    await emit_and_receive(ws, "after reconnect")
    await ws.close(1000, "done")
    step("flow passed")


def main():
    if sys.argv[1:] != ["flow"]:
        print("usage: python3 client.py flow", file=sys.stderr)
        return 2
    try:
        asyncio.run(flow())
    except Exception as err:  # report any failure in one line, as the Node client does
        print(f"python: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
