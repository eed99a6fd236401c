// A Node socket.io 4.8 server on @socket.io/redis-adapter 8.3, for mixed
// Go/Node cluster tests. Not product code.
//
// Environment:
//   PORT        listen port [0: any free port]
//   REDIS_URL   [redis://127.0.0.1:6379]
//   PREFIX      the adapter's `key` (channel prefix) [socket.io]
//   NAMESPACES  comma-separated namespaces to serve [/]
//
// Sockets join the rooms named in the handshake query `rooms` (comma
// separated) and get socket.data = {user, rooms} from the query. There is
// no auth. CORS allows any origin.
//
// Control: one JSON command per line on stdin, or POST /_control with the
// same JSON; the reply is one JSON line on stdout ({"id", "ok", "result"
// or "error"}) and the HTTP response body. Commands:
//   {"id":1,"cmd":"broadcast","nsp":"/","rooms":[],"except":[],"event":"e","args":[...],"volatile":false}
//   {"id":2,"cmd":"fetchSockets","nsp":"/","rooms":[],"except":[]}
//   {"id":3,"cmd":"allRooms","nsp":"/"}
// In args, {"$bin":"<base64>"} is a Buffer; in results, Buffers print so.
// Events also print as JSON lines: {"event":"ready","port"},
// {"event":"connection","nsp","id"}, {"event":"disconnect","nsp","id","reason"}.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

const port = Number(process.env.PORT ?? 0);
const redisURL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = process.env.PREFIX || "socket.io";
const namespaces = (process.env.NAMESPACES || "/").split(",").filter(Boolean);

const out = (obj) => process.stdout.write(JSON.stringify(obj, replacer) + "\n");

function replacer(key, value) {
  if (value && value.type === "Buffer" && Array.isArray(value.data)) {
    return { $bin: Buffer.from(value.data).toString("base64") };
  }
  return value;
}

function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string" && Object.keys(v).length === 1) {
      return Buffer.from(v.$bin, "base64");
    }
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, revive(e)]));
  }
  return v;
}

const pubClient = createClient({ url: redisURL });
const subClient = pubClient.duplicate();
pubClient.on("error", (err) => out({ event: "redis_error", error: String(err) }));
subClient.on("error", (err) => out({ event: "redis_error", error: String(err) }));
await Promise.all([pubClient.connect(), subClient.connect()]);

const http = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/_control") {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", async () => {
    const reply = await run(body);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(reply, replacer));
  });
});

const io = new Server(http, {
  cors: { origin: true, credentials: true },
  adapter: createAdapter(pubClient, subClient, { key: prefix }),
});

for (const name of namespaces) {
  io.of(name).on("connection", (socket) => {
    const q = socket.handshake.query;
    const rooms = String(q.rooms ?? "").split(",").filter(Boolean);
    socket.data = { user: q.user ?? null, rooms };
    socket.join(rooms);
    out({ event: "connection", nsp: name, id: socket.id });
    socket.on("disconnect", (reason) => out({ event: "disconnect", nsp: name, id: socket.id, reason }));
  });
}

async function run(line) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `bad JSON: ${err.message}` };
  }
  try {
    const nsp = io.of(cmd.nsp ?? "/");
    let op = nsp.to(cmd.rooms ?? []).except(cmd.except ?? []);
    switch (cmd.cmd) {
      case "broadcast":
        if (cmd.volatile) op = op.volatile;
        op.emit(cmd.event, ...revive(cmd.args ?? []));
        return { id: cmd.id, ok: true, result: null };
      case "fetchSockets": {
        const sockets = await op.fetchSockets();
        return {
          id: cmd.id,
          ok: true,
          result: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, handshake: s.handshake })),
        };
      }
      case "allRooms":
        return { id: cmd.id, ok: true, result: [...(await nsp.adapter.allRooms())] };
      default:
        return { id: cmd.id, ok: false, error: `unknown command ${cmd.cmd}` };
    }
  } catch (err) {
    return { id: cmd.id, ok: false, error: String(err?.message ?? err) };
  }
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  if (line.trim() === "") return;
  out(await run(line));
});

async function shutdown() {
  io.close();
  await Promise.allSettled([pubClient.quit(), subClient.quit()]);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.stdin.on("end", shutdown);

http.listen(port, "127.0.0.1", () => out({ event: "ready", port: http.address().port }));
