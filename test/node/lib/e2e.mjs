// Shared helpers of the Node end-to-end tests: configuration from the
// environment (set by test/e2e/serve_node_test.go), HS256 tokens minted by
// hand, official socket.io-client connections, event recorders and REST.
import { createHmac } from 'node:crypto';
import { io } from 'socket.io-client';

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run these tests through "go test ./test/e2e -run TestNode" (it starts the server)`);
  }
  return v;
}

/** Base URL of the server under test, e.g. http://127.0.0.1:41234. */
export const URL = required('COWORK_E2E_URL').replace(/\/$/, '');
/** JWT secret of the server under test. */
export const SECRET = required('COWORK_E2E_SECRET');
/** The server's --hold-ttl in milliseconds. */
export const HOLD_TTL_MS = Number(process.env.COWORK_E2E_HOLD_TTL_MS || 15 * 60 * 1000);

/** Generous deadline for anything that should happen "at once". */
export const SOON_MS = 5000;

const b64url = (buf) => Buffer.from(buf).toString('base64url');

const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/**
 * sign builds a JWT. header defaults to HS256; pass {alg:'none'} for an
 * unsigned token or {alg:'HS512'} for another HMAC. secret defaults to the
 * server's.
 */
export function sign(claims, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const head = b64url(JSON.stringify(header));
  const body = b64url(JSON.stringify(claims));
  if (header.alg === 'none') return `${head}.${body}.`;
  const sig = createHmac(HMAC[header.alg], secret).update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64url(sig)}`;
}

/** token mints a valid token for a user, valid for an hour. */
export function token(userId, ruolo = 'cliente', extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return sign({ id_utente: userId, ruolo, iat: now, exp: now + 3600, ...extra });
}

/**
 * A user id no other test file uses: the files run in parallel against one
 * server, and hold_expired goes to every socket of a user.
 */
let nextUser = 0;
export function uniqueUser(base) {
  nextUser += 1;
  return base * 1000 + nextUser;
}

/** Date (YYYY-MM-DD, UTC) `days` from today; the server runs with --tz UTC. */
export function dateIn(days) {
  const d = new Date(Date.now() + days * 86400_000);
  return d.toISOString().slice(0, 10);
}

/**
 * holdMessage is the hold success text the server must send for its TTL,
 * in Italian words (protocol.HoldMessage): under two minutes and not a
 * whole minute in seconds, otherwise hours, minutes and seconds.
 */
export function holdMessage(ttlMs = HOLD_TTL_MS) {
  let s = Math.max(Math.round(ttlMs / 1000), 1);
  const word = (n, one, many) => (n === 1 ? `1 ${one}` : `${n} ${many}`);
  if (s < 120 && s % 60 !== 0) return `Slot occupato per ${word(s, 'secondo', 'secondi')}`;
  const parts = [];
  for (const [unit, one, many] of [[3600, 'ora', 'ore'], [60, 'minuto', 'minuti'], [1, 'secondo', 'secondi']]) {
    const n = Math.floor(s / unit);
    if (n > 0) parts.push(word(n, one, many));
    s %= unit;
  }
  const last = parts.pop();
  return `Slot occupato per ${parts.length ? `${parts.join(', ')} e ${last}` : last}`;
}

/**
 * client opens an official socket.io-client socket (forceNew, so every test
 * has its own Manager and engine). Listeners registered right after this
 * call see connection_confirmed.
 */
export function client({ auth, query, transports, ...opts } = {}) {
  return io(URL, {
    forceNew: true,
    auth,
    query,
    transports,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
    timeout: SOON_MS,
    ...opts,
  });
}

/** connected resolves once the socket connects, rejects on connect_error. */
export function connected(socket, ms = SOON_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no connect within ${ms} ms`)); }, ms);
    const onConnect = () => { cleanup(); resolve(socket); };
    const onError = (err) => { cleanup(); reject(err); };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** connectError resolves with the first connect_error (fails on connect). */
export function connectError(socket, ms = SOON_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no connect_error within ${ms} ms`)); }, ms);
    const onConnect = () => { cleanup(); reject(new Error('connected, expected connect_error')); };
    const onError = (err) => { cleanup(); resolve(err); };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** once resolves with the first payload of event (first argument). */
export function once(emitter, event, ms = SOON_MS, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.off(event, on); reject(new Error(`no ${event} within ${ms} ms`)); }, ms);
    const on = (...args) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(args[0]);
    };
    emitter.on(event, on);
  });
}

/** emitAck emits with an ack and a deadline; resolves with the ack payload. */
export function emitAck(socket, event, ...args) {
  return socket.timeout(SOON_MS).emitWithAck(event, ...args);
}

/**
 * Recorder keeps every payload of the given events, with the arrival time,
 * and lets a test wait for a matching one.
 */
export class Recorder {
  constructor(socket, events) {
    this.events = [];
    this.waiters = new Set();
    for (const name of events) {
      socket.on(name, (payload) => {
        const rec = { event: name, payload, at: Date.now() };
        this.events.push(rec);
        for (const w of [...this.waiters]) w(rec);
      });
    }
  }

  /** all returns the recorded payloads of event matching pred. */
  all(event, pred = () => true) {
    return this.events.filter((e) => e.event === event && pred(e.payload)).map((e) => e.payload);
  }

  /** wait resolves with the first (past or future) event matching pred. */
  wait(event, pred = () => true, ms = SOON_MS) {
    const seen = this.events.find((e) => e.event === event && pred(e.payload));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no matching ${event} within ${ms} ms; got: ${JSON.stringify(this.events.map((e) => e.event))}`));
      }, ms);
      const w = (rec) => {
        if (rec.event === event && pred(rec.payload)) {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(rec);
        }
      };
      this.waiters.add(w);
    });
  }
}

/** api calls the REST API; resolves with {status, body}. */
export async function api(method, path, { token: tok, body, headers = {} } = {}) {
  const h = { ...headers };
  if (tok) h.Authorization = `Bearer ${tok}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(URL + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(SOON_MS),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, body: json, text };
}

/** slotAction performs hold/book/release of slot n of a spazio. */
export function slotAction(action, tok, { slot, spazioId, sedeId, date }) {
  return api('POST', `/api/slots/${slot}/${action}`, { token: tok, body: { idSpazio: spazioId, sedeId, date } });
}

/** grid fetches GET /api/slots/{spazio}/{date}. */
export async function grid(spazioId, date) {
  const r = await api('GET', `/api/slots/${spazioId}/${date}`);
  if (r.status !== 200) throw new Error(`GET slots ${spazioId}/${date}: ${r.status} ${r.text}`);
  return r.body.data.slots;
}

/** sleep for ms; only to leave room for unwanted duplicates to show up. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** ISO_UTC matches JavaScript's Date.prototype.toISOString output. */
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** hasKeyDeep reports whether obj has key anywhere in its tree. */
export function hasKeyDeep(obj, key) {
  if (obj === null || typeof obj !== 'object') return false;
  if (Object.hasOwn(obj, key)) return true;
  return Object.values(obj).some((v) => hasKeyDeep(v, key));
}

/** closeAll disconnects every socket given (test cleanup). */
export function closeAll(...sockets) {
  for (const s of sockets.flat()) {
    try { s.disconnect(); } catch { /* already gone */ }
  }
}
