// An official socket.io-client that prints what it receives as JSON
// lines, for mixed cluster tests. Not product code.
//
// Usage: node node-client.mjs <url, e.g. http://127.0.0.1:3000/> [rooms] [user]
// Prints {"event":"connect","id"}, {"event":"connect_error","message"},
// {"event":"message","name","args"} (Buffers as {"$bin":"<base64>"}) and
// {"event":"disconnect","reason"}. Closes when stdin ends.
import { io } from "socket.io-client";

const [url, rooms = "", user = ""] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj, replacer) + "\n");

function replacer(key, value) {
  if (value instanceof ArrayBuffer) value = Buffer.from(value);
  if (value && value.type === "Buffer" && Array.isArray(value.data)) {
    return { $bin: Buffer.from(value.data).toString("base64") };
  }
  return value;
}

const socket = io(url, { transports: ["websocket"], query: { rooms, user }, reconnection: false });
socket.on("connect", () => out({ event: "connect", id: socket.id }));
socket.on("connect_error", (err) => out({ event: "connect_error", message: err.message }));
socket.on("disconnect", (reason) => out({ event: "disconnect", reason }));
socket.onAny((name, ...args) => out({ event: "message", name, args }));

process.stdin.resume();
process.stdin.on("end", () => {
  socket.close();
  process.exit(0);
});
