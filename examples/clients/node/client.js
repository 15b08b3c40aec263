#!/usr/bin/env node
// A Zoom WebSocket event client in Node.js (package "ws"), written against zoommock.
//
//   node client.js flow      run the whole protocol once against a mock and exit 0 when every
//                            answer is right (a self-test; see ../README.md)
//   node client.js consume   behave like a service: connect, send heartbeats, verify and print
//                            each event as a JSON line, reconnect when the connection ends
//
// Configured only by environment variables, as a service in docker-compose would be:
//   ZOOM_TOKEN_URL       e.g. http://zoommock:9876/oauth/token (real Zoom: https://zoom.us/oauth/token)
//   ZOOM_WS_URL          e.g. ws://zoommock:9876/ws?subscriptionId=ID (the app page's URL, without the token)
//   ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, ZOOM_ACCOUNT_ID, ZOOM_SECRET_TOKEN
//   ZOOM_HEARTBEAT_SECONDS  heartbeat period in consume mode (default 30, as Zoom documents)
//   MOCK_ADMIN_URL       flow mode only: the mock's admin API, e.g. http://zoommock:9876/_mock
//   MOCK_ADMIN_TOKEN     flow mode only: the mock's --admin-token (needed from another container)
'use strict';

const crypto = require('node:crypto');
const WebSocket = require('ws');

const HEARTBEAT = '{"module":"heartbeat"}';
const HEARTBEAT_REPLY = '{"module":"heartbeat","success":true,"content":"live","header":{}}';
const TIMEOUT_MS = 10000;

function env(name, fallback) {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`environment variable ${name} is not set`);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// token exchanges the app's credentials for an access token. account_credentials sends its
// parameters in the query string and client_credentials in a form body: real clients do both.
async function token(grant) {
  const url = new URL(env('ZOOM_TOKEN_URL'));
  const basic = Buffer.from(`${env('ZOOM_CLIENT_ID')}:${env('ZOOM_CLIENT_SECRET')}`).toString('base64');
  const init = { method: 'POST', headers: { Authorization: `Basic ${basic}` } };
  if (grant === 'account_credentials') {
    url.searchParams.set('grant_type', grant);
    url.searchParams.set('account_id', env('ZOOM_ACCOUNT_ID'));
  } else {
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams({ grant_type: grant }).toString();
  }
  const res = await fetch(url, init);
  const text = await res.text();
  check(res.status === 200, `token (${grant}): HTTP ${res.status}: ${text}`);
  const t = JSON.parse(text);
  check(typeof t.access_token === 'string' && t.access_token !== '', `token (${grant}): access_token is a string`);
  check(t.token_type === 'bearer', `token (${grant}): token_type is "bearer", got ${JSON.stringify(t.token_type)}`);
  check(typeof t.expires_in === 'number', `token (${grant}): expires_in is a number`);
  check(typeof t.scope === 'string', `token (${grant}): scope is a string`);
  return t.access_token;
}

// Connection wraps a ws socket with an inbox, so a test can await "the next frame" or "the close".
class Connection {
  static open(accessToken) {
    // Zoom's clients append &access_token= to the URL shown on the app page, unencoded.
    const ws = new WebSocket(`${env('ZOOM_WS_URL')}&access_token=${accessToken}`);
    const c = new Connection(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.closed = null;
    this.wake = () => {};
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? data : data.toString('utf8'));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    ws.on('error', () => {}); // a close event follows
  }

  async until(cond, what) {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const v = cond();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      check(left > 0, `${what} within ${TIMEOUT_MS} ms`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  // next resolves to the next text frame; a close before it is an error.
  next(what) {
    return this.until(() => {
      if (this.frames.length > 0) return this.frames.shift();
      if (this.closed) throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      return undefined;
    }, what);
  }

  // close resolves to the close code and reason the server sent.
  close() {
    return this.until(() => (this.closed ? this.closed : undefined), 'the close');
  }

  get localPort() {
    return this.ws._socket && this.ws._socket.localPort;
  }
}

// verifySignature applies the webhook rule: "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + content)).
function verifySignature(frame) {
  const ts = frame.header['x-zm-request-timestamp'];
  const want = 'v0=' + crypto.createHmac('sha256', env('ZOOM_SECRET_TOKEN')).update(`v0:${ts}:${frame.content}`).digest('hex');
  const got = String(frame.header['x-zm-signature']);
  return got.length === want.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(want));
}

// readEvent checks a message frame and returns the inner event.
function readEvent(text) {
  const frame = JSON.parse(text);
  check(frame.module === 'message', `a message frame, got ${text}`);
  check(!('success' in frame), 'message frames have no success key');
  check(typeof frame.content === 'string', 'content is a JSON string, not an object');
  check(verifySignature(frame), `x-zm-signature verifies with the secret token: ${text}`);
  const event = JSON.parse(frame.content);
  check(typeof event.event_ts === 'number', 'event_ts is a number of milliseconds');
  return { frame, event };
}

async function connect(grant) {
  const c = await Connection.open(await token(grant));
  const hello = JSON.parse(await c.next('build_connection'));
  check(hello.module === 'build_connection' && hello.success === true, `build_connection success, got ${JSON.stringify(hello)}`);
  return c;
}

async function admin(method, path, body) {
  const headers = {};
  const token = process.env.MOCK_ADMIN_TOKEN;
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(env('MOCK_ADMIN_URL') + path, init);
  const text = await res.text();
  check(res.ok, `${method} ${path}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

async function heartbeat(c) {
  c.ws.send(HEARTBEAT);
  const reply = await c.next('the heartbeat reply');
  check(reply === HEARTBEAT_REPLY, `heartbeat reply is exactly ${HEARTBEAT_REPLY}, got ${reply}`);
}

async function emitAndReceive(c, topic) {
  const sent = { event: 'meeting.started', payload: { account_id: env('ZOOM_ACCOUNT_ID'), object: { id: '84512093377', topic } } };
  const res = await admin('POST', '/events', sent);
  check(res.delivered === 1 && res.dropped === false, `the mock delivered the event once: ${JSON.stringify(res)}`);
  const { frame, event } = readEvent(await c.next('the event'));
  check(event.event === 'meeting.started' && event.payload.object.topic === topic, `the emitted event, got ${frame.content}`);
  check(frame.header['x-zm-trackingid'] === res.trackingIds[0], 'x-zm-trackingid is the one the admin API reported');
  check(frame.header.clientId === env('ZOOM_CLIENT_ID'), 'header.clientId is the app');
}

async function flow() {
  const step = (s) => console.log(`node: ${s}`);
  let c = await connect('account_credentials');
  step('token (account_credentials) and build_connection ok');
  await heartbeat(c);
  step('heartbeat reply exact');
  await emitAndReceive(c, 'from node');
  step('event received, signature verified');

  const conns = await admin('GET', '/connections');
  const mine = conns.find((x) => x.remoteAddr.endsWith(`:${c.localPort}`));
  check(mine, `GET /_mock/connections lists this client (local port ${c.localPort}): ${JSON.stringify(conns)}`);
  await admin('POST', `/connections/${mine.id}/close`, { code: 1011, reason: 'node test close' });
  const closed = await c.close();
  check(closed.code === 1011 && closed.reason === 'node test close', `close 1011 "node test close", got ${JSON.stringify(closed)}`);
  step(`forced close received: ${closed.code} ${closed.reason}`);

  c = await connect('client_credentials');
  step('reconnected with a client_credentials token');
  await heartbeat(c);
  await emitAndReceive(c, 'after reconnect');
  c.ws.close(1000, 'done');
  await c.close();
  step('flow passed');
}

// consume runs like a service until SIGTERM: one connection at a time, a fresh token for each.
async function consume() {
  const period = Number(env('ZOOM_HEARTBEAT_SECONDS', '30')) * 1000;
  let stopping = false;
  let current = null;
  const stop = () => {
    stopping = true;
    if (current) current.ws.close(1000, 'consumer stopping');
    else process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  while (!stopping) {
    try {
      current = await connect('account_credentials');
      console.log(JSON.stringify({ msg: 'connected' }));
      const beat = setInterval(() => current.ws.send(HEARTBEAT), period);
      const c = current;
      for (;;) {
        const text = await c.until(() => (c.frames.length > 0 ? c.frames.shift() : c.closed ? null : undefined), 'a frame')
          .catch(() => undefined); // no frame for a while: keep waiting
        if (text === null) break;
        if (text === undefined) continue;
        const frame = JSON.parse(text);
        if (frame.module !== 'message') continue;
        const event = JSON.parse(frame.content);
        console.log(JSON.stringify({ msg: 'event', event: event.event, verified: verifySignature(frame), trackingId: frame.header['x-zm-trackingid'] }));
      }
      clearInterval(beat);
      console.log(JSON.stringify({ msg: 'closed', code: c.closed.code, reason: c.closed.reason }));
    } catch (err) {
      console.log(JSON.stringify({ msg: 'error', error: String(err.message || err) }));
    }
    current = null;
    if (!stopping) await new Promise((r) => setTimeout(r, 1000));
  }
}

const mode = process.argv[2];
const modes = { flow, consume };
if (!modes[mode]) {
  console.error('usage: node client.js flow|consume');
  process.exit(2);
}
modes[mode]().then(() => process.exit(0), (err) => {
  console.error(`node: ${err.message || err}`);
  process.exit(1);
});
