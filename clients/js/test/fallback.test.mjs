// The transport list and the fallback: the client in Node against a real
// `herald serve` binary, directly and through a real HTTP proxy that
// refuses every Upgrade, as proxies that strip it make the handshake fail.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import WebSocket from "ws";
import { Client } from "../dist/index.js";
import "../dist/fallback.js";
import { next, startHerald, until } from "./lib/herald.mjs";
import { noUpgradeProxy } from "./lib/proxy.mjs";

const closers = [];
after(async () => {
  for (const c of closers) await c();
});


async function herald(opts) {
  const s = await startHerald(opts);
  closers.push(() => s.kill());
  return s;
}

function client(base, lines) {
  const c = new Client(base, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 500, debug: (l) => lines?.push(l) });
  closers.push(async () => c.disconnect());
  return c;
}

// First: the transport that worked is remembered for the process (a
// browser tab's session), and the later tests move it to http_stream.
test("directly the client stays on websocket", async () => {
  const s = await herald();
  const c = new Client(s.base, { websocket: WebSocket, transports: ["websocket", "http_stream"] });
  closers.push(async () => c.disconnect());
  c.connect();
  assert.equal((await c.ready()).transport, "websocket");
  c.disconnect();
});

test("a server killed and restarted: the client comes back on websocket, not on a fallback it does not need", async () => {
  const s = await herald();
  const lines = [];
  const c = new Client(s.base, { websocket: WebSocket, transports: ["websocket", "http_stream"], minReconnectDelay: 200, maxReconnectDelay: 400, debug: (l) => lines.push(l) });
  closers.push(async () => c.disconnect());
  c.connect();
  assert.equal((await c.ready()).transport, "websocket");
  await s.kill();
  // While it is down every round fails whole (websocket, then http_stream
  // at once); each round starts from websocket again.
  await until(() => lines.filter((l) => l.includes("(http_stream)")).length >= 2, "two rounds tried while the server was down");
  const back = next(c, "connected");
  const s2 = await herald({ port: s.port });
  assert.ok(s2);
  assert.equal((await back).transport, "websocket", lines.join("\n"));
  c.disconnect();
});

test("through a proxy that refuses the upgrade the client falls back to http_stream, works, and starts there next time", async () => {
  const s = await herald();
  const px = await noUpgradeProxy(s.base);
  closers.push(px.close);
  const proxy = px.base;
  const lines = [];
  const c = client(proxy, lines);
  const pubs = [];
  const sub = c.newSubscription("chat:fallback");
  sub.on("publication", (p) => pubs.push(p.data));
  sub.subscribe();
  c.connect();
  const connected = await c.ready();
  assert.equal(connected.transport, "http_stream");
  assert.ok(lines.some((l) => l.includes("(websocket)")), "websocket was tried first");
  await sub.ready();
  await c.publish("chat:fallback", { from: "client" });
  await s.api("publish", { channel: "chat:fallback", data: { from: "api" } });
  await until(() => pubs.length === 2, "both publications over the stream");
  assert.deepEqual(pubs, [{ from: "client" }, { from: "api" }]);
  assert.deepEqual(await c.rpc("echo", { x: 1 }), { x: 1 });
  c.disconnect();

  // What worked is remembered: a new client tries it first.
  const again = [];
  const d = client(proxy, again);
  d.connect();
  assert.equal((await d.ready()).transport, "http_stream");
  assert.ok(!again.some((l) => l.includes("(websocket)")), again.join("\n"));
  d.disconnect();
});

test("a reconnect asked by the server on the fallback transport comes back on it", async () => {
  const s = await herald();
  const px = await noUpgradeProxy(s.base);
  closers.push(px.close);
  const proxy = px.base;
  const c = client(proxy);
  c.connect();
  assert.equal((await c.ready()).transport, "http_stream");
  const { client: id } = await c.ready();
  const reconnected = new Promise((r) => c.on("connected", r));
  await s.api("disconnect", { client: id, code: 4006 });
  const ev = await reconnected;
  assert.equal(ev.transport, "http_stream");
  c.disconnect();
});
