// The browser's offline/online events and the debug log, against a real
// server. Node has neither window events nor navigator, so the test gives
// the global scope what a browser window has: an EventTarget and a
// navigator object.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import WebSocket from "ws";
import { Client } from "../dist/index.js";
import { next, startHerald, until } from "./lib/herald.mjs";

const win = new EventTarget();
globalThis.addEventListener = win.addEventListener.bind(win);
globalThis.removeEventListener = win.removeEventListener.bind(win);
globalThis.navigator ??= { onLine: true };

const servers = [];
after(async () => {
  for (const s of servers) await s.kill();
});

test("offline: the connection counts as lost and no attempt is made until online", async () => {
  const s = await startHerald();
  servers.push(s);
  const c = new Client(s.base, { websocket: WebSocket, minReconnectDelay: 10, maxReconnectDelay: 20 });
  const sub = c.newSubscription("news");
  sub.subscribe();
  c.connect();
  await sub.ready();
  const connecting = next(c, "connecting");
  win.dispatchEvent(new Event("offline"));
  const e = await connecting;
  assert.equal(e.code, 1);
  assert.match(e.reason, /offline/);
  // The server sees the connection go; the client stays Connecting, without dialling.
  await until(async () => (await s.api("info")).nodes[0].num_clients === 0, "the server to see the connection close");
  assert.equal(c.state, "connecting");
  const subscribed = next(sub, "subscribed");
  win.dispatchEvent(new Event("online"));
  await c.ready();
  await subscribed;
  c.disconnect();
  // After disconnect() the client no longer listens.
  win.dispatchEvent(new Event("offline"));
  win.dispatchEvent(new Event("online"));
  assert.equal(c.state, "disconnected");
});

test("offline and online again while getToken runs: one attempt, not two", async () => {
  const s = await startHerald();
  servers.push(s);
  let calls = 0;
  let give;
  const c = new Client(s.base, {
    websocket: WebSocket,
    getToken: () => (calls++, new Promise((r) => (give = r))),
  });
  c.connect();
  win.dispatchEvent(new Event("offline"));
  win.dispatchEvent(new Event("online"));
  assert.equal(calls, 1, "online while the attempt waits for its token starts no other");
  give("");
  await c.ready();
  assert.equal(calls, 1);
  c.disconnect();
});

test("debug: every frame in and out and every state change, with a timestamp", async () => {
  const s = await startHerald();
  servers.push(s);
  const lines = [];
  const c = new Client(s.base, { websocket: WebSocket, debug: (l) => lines.push(l) });
  c.connect();
  await c.ready();
  await assert.rejects(c.publish("bad channel", 1), (e) => /^herald: 109 invalid_channel: .+/.test(e.message));
  c.disconnect();
  const ts = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z herald /;
  assert.ok(lines.every((l) => ts.test(l)), lines.join("\n"));
  const has = (re) => assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}:\n${lines.join("\n")}`);
  has(/state disconnected → connecting \(0 connect called\)/);
  has(/→ \{"id":1,"connect":\{/);
  has(/← \{"id":1,"connect":\{"client":/);
  has(/state connecting → connected/);
  has(/→ \{"id":2,"publish":\{"channel":"bad channel"/);
  has(/← \{"id":2,"error":\{"code":109/);
  has(/state connected → disconnected \(3 client closed\)/);
});
