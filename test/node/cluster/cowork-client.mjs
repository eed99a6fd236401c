// An official socket.io-client for a coworkctl node: it authenticates with
// auth.token, optionally joins one spazio, and prints what it receives as
// JSON lines, for mixed Go/Node cluster tests. Not product code.
//
// Usage: node cowork-client.mjs <url, e.g. http://127.0.0.1:3000/>
// Environment:
//   TOKEN  the JWT sent as auth.token (required by coworkctl)
//   JOIN   "<spazioId>:<sedeId>" to emit join_space (with an ack) on connect
// Prints {"event":"connect","id"}, {"event":"connect_error","message"},
// {"event":"joined","ack"} (the join_space ack), {"event":"message","name","args"}
// and {"event":"disconnect","reason"}. Closes when stdin ends.
import { io } from "socket.io-client";

const [url] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const socket = io(url, {
  auth: { token: process.env.TOKEN ?? "" },
  reconnection: false,
  forceNew: true,
});
socket.on("connect", () => {
  out({ event: "connect", id: socket.id });
  if (process.env.JOIN) {
    const [spazioId, sedeId] = process.env.JOIN.split(":").map(Number);
    socket.emit("join_space", { spazioId, sedeId }, (ack) => out({ event: "joined", ack }));
  }
});
socket.on("connect_error", (err) => out({ event: "connect_error", message: err.message }));
socket.on("disconnect", (reason) => out({ event: "disconnect", reason }));
socket.onAny((name, ...args) => out({ event: "message", name, args }));

process.stdin.resume();
process.stdin.on("end", () => {
  socket.close();
  process.exit(0);
});
