// The seed backend's real-time contract on Node.js — socket.io 4 and
// jsonwebtoken, as the original Express server used them — reduced to what
// the benchmark exercises: the JWT handshake middleware, join_space /
// leave_space with acks, joined_space and slots_status_update answers, the
// per-user room, and POST /api/admin/emit (the same body and answer as
// coworkctl serve, so `coworkctl emit load` drives both alike). GET
// /api/sedi lists the demo catalog (sede 1: spazi 1–4, sede 2: spazi 5–8), or
// the sedi of the file named by CATALOG.
//
//   JWT_SECRET=s3cret PORT=3000 node server.js
//   JWT_SECRET=s3cret PORT=3000 CATALOG=catalog-40.json node server.js
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const jwt = require('jsonwebtoken');

const SECRET = process.env.JWT_SECRET;
const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || '127.0.0.1';
if (!SECRET) {
  console.error('JWT_SECRET is required');
  process.exit(2);
}

const STAFF = new Set(['gestore', 'responsabile', 'amministratore', 'admin']);
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener',
  'removeListener', 'error', 'message', 'reconnect', 'reconnect_attempt', 'reconnect_error',
  'reconnect_failed', 'ping', 'pong']);

// CATALOG=path loads the sedi from a file in the shape of `coworkctl serve
// --catalog` ({"sedi": [...]} or a bare list, JSON only), e.g. catalog-40.json.
const sedi = process.env.CATALOG ? loadCatalog(process.env.CATALOG) : [1, 2].map((idSede) => ({
  id_sede: idSede,
  nome: idSede === 1 ? 'Cowork Milano' : 'Cowork Roma',
  citta: idSede === 1 ? 'Milano' : 'Roma',
  orario_apertura: '09:00',
  orario_chiusura: '18:00',
  spazi: [0, 1, 2, 3].map((i) => ({ id_spazio: (idSede - 1) * 4 + i + 1, id_sede: idSede, nome: `Spazio ${(idSede - 1) * 4 + i + 1}`, tipologia: 'postazione', capacita: 4 })),
}));
function loadCatalog(path) {
  const parsed = JSON.parse(require('node:fs').readFileSync(path, 'utf8'));
  return (Array.isArray(parsed) ? parsed : parsed.sedi)
    .map((s) => ({ ...s, spazi: (s.spazi || []).map((sp) => ({ ...sp, id_sede: s.id_sede })) }));
}
const spazioSede = new Map(sedi.flatMap((s) => s.spazi.map((sp) => [sp.id_spazio, s.id_sede])));

const now = () => new Date().toISOString();
const positiveInt = (v) => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
};

function verify(token) {
  const claims = jwt.verify(token, SECRET, { algorithms: ['HS256'] });
  if (!Number.isSafeInteger(claims.id_utente) || claims.id_utente <= 0) throw new Error('no id_utente');
  return claims;
}

function send(res, status, body) {
  const b = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
  res.end(b);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
  if (req.method === 'GET' && url.pathname === '/api/sedi') return send(res, 200, { success: true, data: sedi });
  if (req.method === 'POST' && url.pathname === '/api/admin/emit') return adminEmit(req, res);
  return send(res, 404, { success: false, error: 'Not found' });
});

function adminEmit(req, res) {
  const auth = req.headers.authorization || '';
  if (!auth.startsWith('Bearer ')) return send(res, 401, { success: false, error: 'Token di accesso richiesto' });
  let claims;
  try {
    claims = verify(auth.slice(7));
  } catch {
    return send(res, 403, { success: false, error: 'Token non valido o scaduto' });
  }
  if (!STAFF.has(claims.ruolo)) return send(res, 403, { success: false, error: 'Accesso riservato allo staff' });
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > 1 << 20) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { success: false, error: 'JSON non valido' });
    }
    const event = body.event;
    if (typeof event !== 'string' || event === '' || RESERVED.has(event)) return send(res, 400, { success: false, error: 'Nome evento non valido' });
    let room = null;
    if (typeof body.room === 'string' && body.room) room = body.room;
    else if (body.spazioId != null || body.sedeId != null) {
      const sp = positiveInt(body.spazioId);
      const sd = positiveInt(body.sedeId);
      if (!sp || !sd) return send(res, 400, { success: false, error: 'spazioId e sedeId non validi' });
      room = `spazio_${sp}_sede_${sd}`;
    } else if (body.userId != null) {
      const u = positiveInt(body.userId);
      if (!u) return send(res, 400, { success: false, error: 'userId non valido' });
      room = `user_${u}`;
    } else if (body.all !== true) return send(res, 400, { success: false, error: 'Destinatario mancante' });

    let recipients;
    if (room) {
      recipients = io.sockets.adapter.rooms.get(room)?.size || 0;
      io.to(room).emit(event, body.data);
    } else {
      recipients = io.sockets.sockets.size;
      io.emit(event, body.data);
    }
    send(res, 200, { success: true, event, target: room || 'all', recipients, recipientsExact: true, timestamp: now() });
  });
}

const io = new Server(server, {
  cors: { origin: '*', methods: ['GET', 'POST'], credentials: true },
});

io.use((socket, next) => {
  const token = socket.handshake.auth?.token || socket.handshake.query?.token;
  if (!token) {
    const err = new Error('Token di autenticazione richiesto');
    err.data = { code: 'AUTH_REQUIRED' };
    return next(err);
  }
  try {
    socket.user = verify(token);
    return next();
  } catch {
    const err = new Error('Token non valido');
    err.data = { code: 'AUTH_INVALID' };
    return next(err);
  }
});

function spaceError(socket, ack, code, message) {
  socket.emit('space_error', { type: 'space_error', code, message, timestamp: now() });
  if (typeof ack === 'function') ack({ success: false, error: message, code });
}

io.on('connection', (socket) => {
  const userId = socket.user.id_utente;
  socket.join(`user_${userId}`);
  socket.emit('connection_confirmed', { message: 'Connesso al sistema real-time', userId, timestamp: now() });

  socket.on('join_space', (data, ack) => {
    const sp = positiveInt(data?.spazioId);
    const sd = positiveInt(data?.sedeId);
    if (!sp || !sd) return spaceError(socket, ack, 'INVALID_INPUT', 'Dati non validi');
    if (!spazioSede.has(sp)) return spaceError(socket, ack, 'SPACE_NOT_FOUND', 'Spazio non trovato');
    if (spazioSede.get(sp) !== sd) return spaceError(socket, ack, 'SPACE_NOT_IN_SEDE', 'Spazio non appartiene alla sede');
    const room = `spazio_${sp}_sede_${sd}`;
    const date = typeof data.date === 'string' ? data.date : new Date().toISOString().slice(0, 10);
    socket.join(room);
    socket.emit('joined_space', { room, spazioId: sp, sedeId: sd, date, timestamp: now() });
    const slotsStatus = Array.from({ length: 9 }, (_, i) => ({
      id: i + 1, id_slot: i + 1, id_spazio: sp, id_sede: sd, date,
      orario: `${String(9 + i).padStart(2, '0')}:00`, status: 'available', title: 'Disponibile',
    }));
    socket.emit('slots_status_update', { type: 'slots_status_update', spazioId: sp, sedeId: sd, date, slotsStatus, timestamp: now() });
    if (typeof ack === 'function') ack({ success: true, room });
  });

  socket.on('leave_space', (data, ack) => {
    const sp = positiveInt(data?.spazioId);
    const sd = positiveInt(data?.sedeId);
    if (sp && sd) socket.leave(`spazio_${sp}_sede_${sd}`);
    if (typeof ack === 'function') ack({ success: true });
  });
});

server.listen(PORT, HOST, () => console.log(`node bench server on http://${HOST}:${PORT} pid ${process.pid}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => io.close(() => process.exit(0)));
