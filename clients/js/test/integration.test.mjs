// Integration tests: the client in Node (with the ws package) against a
// real `herald serve` binary over loopback.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import WebSocket from "ws";
import { Client } from "../dist/index.js";
import { next, startHerald, until } from "./lib/herald.mjs";

const servers = [];
after(async () => {
  for (const s of servers) await s.kill();
});

async function server(opts) {
  const s = await startHerald(opts);
  servers.push(s);
  return s;
}

function client(base, opts = {}) {
  return new Client(base, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 500, ...opts });
}

test("subscribe, publish from the client and from the API, presence, history, rpc", async () => {
  const s = await server();
  const c = client(s.base);
  const pubs = [];
  const sub = c.newSubscription("chat:room1");
  sub.on("publication", (p) => pubs.push(p));
  sub.subscribe();
  c.connect();
  const connected = await c.ready();
  assert.equal(connected.user, "");
  assert.ok(connected.client);
  const subscribed = await sub.ready();
  assert.equal(subscribed.recoverable, true);
  assert.equal(subscribed.wasRecovering, false);

  const r = await c.publish("chat:room1", { text: "hi" });
  assert.equal(r.offset, 1);
  await s.api("publish", { channel: "chat:room1", data: { text: "from api" } });
  await until(() => pubs.length === 2, "two publications");
  assert.deepEqual(pubs.map((p) => [p.offset, p.data.text]), [[1, "hi"], [2, "from api"]]);

  // Ephemeral publications have no offset; echo:false is not delivered back.
  await sub.publish({ typing: true }, { ephemeral: true });
  await until(() => pubs.length === 3, "the ephemeral publication");
  assert.equal(pubs[2].offset, undefined);
  await c.publish("chat:room1", { text: "not echoed" }, { echo: false });
  await c.publish("chat:room1", { text: "echoed" });
  await until(() => pubs.length === 4, "the echoed publication");
  assert.equal(pubs[3].data.text, "echoed");

  const h = await sub.history({ limit: 10 });
  assert.deepEqual(h.publications.map((p) => p.data.text), ["hi", "from api", "not echoed", "echoed"]);
  assert.equal(h.offset, 4);
  const pr = await sub.presence();
  assert.deepEqual(Object.keys(pr.clients), [connected.client]);
  assert.deepEqual(await sub.presenceStats(), { numClients: 1, numUsers: 0 });
  assert.deepEqual(await c.rpc("echo", { x: 1 }), { x: 1 });
  await assert.rejects(c.rpc("nope", {}), (e) => e.code === 116 && e.codeName === "unknown_method");
  c.disconnect();
  assert.equal(c.state, "disconnected");
});

test("the server killed and restarted: the client reconnects, resubscribes and reports recovered:false (new epoch)", async () => {
  const s = await server();
  const c = client(s.base);
  const pubs = [];
  const sub = c.newSubscription("news");
  sub.on("publication", (p) => pubs.push(p));
  sub.subscribe();
  c.connect();
  await sub.ready();
  await s.api("publish", { channel: "news", data: 1 });
  await until(() => pubs.length === 1, "the first publication");
  const epoch = pubs[0].epoch;

  const connecting = next(c, "connecting");
  const subscribing = next(sub, "subscribing");
  await s.kill();
  assert.equal((await connecting).code, 1); // transport closed
  assert.equal((await subscribing).code, 1);

  const subscribed = next(sub, "subscribed");
  const s2 = await server({ port: s.port });
  const again = await subscribed;
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, false, "a memory broker that restarted has a new epoch");
  assert.notEqual(again.epoch, epoch);
  await s2.api("publish", { channel: "news", data: 2 });
  await until(() => pubs.length === 2, "a publication after the restart");
  assert.equal(pubs[1].offset, 1);
  c.disconnect();
});

test("a force_reconnect from the API: the client recovers everything published meanwhile", async () => {
  const s = await server();
  const c = client(s.base, { minReconnectDelay: 300, maxReconnectDelay: 300 });
  const pubs = [];
  const sub = c.newSubscription("feed");
  sub.on("publication", (p) => pubs.push(p.data));
  sub.subscribe();
  c.connect();
  const { client: id } = await c.ready();
  await sub.ready();
  await s.api("publish", { channel: "feed", data: "a" });
  await until(() => pubs.length === 1, "a");
  const connecting = next(c, "connecting");
  const subscribed = next(sub, "subscribed");
  await s.api("disconnect", { client: id, code: 4006 });
  assert.equal((await connecting).code, 4006);
  await s.api("publish", { channel: "feed", data: "b" });
  await s.api("publish", { channel: "feed", data: "c" });
  const again = await subscribed;
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, true);
  await until(() => pubs.length === 3, "b and c recovered");
  assert.deepEqual(pubs, ["a", "b", "c"]);
  c.disconnect();
});

test("a force_disconnect from the API stops the client: Disconnected with 4503, ready() rejects", async () => {
  const s = await server();
  const c = client(s.base, { debug: process.env.HERALD_DEBUG ? true : false });
  c.connect();
  const { client: id } = await c.ready();
  const disconnected = next(c, "disconnected");
  await s.api("disconnect", { client: id });
  const e = await disconnected;
  assert.equal(e.code, 4503);
  assert.equal(c.state, "disconnected");
  await assert.rejects(c.ready(), (err) => err.code === 4503);
});

test("join and leave, and subscriptions made by the server API (sub and unsub pushes)", async () => {
  const s = await server();
  const a = client(s.base);
  const b = client(s.base);
  const room = a.newSubscription("chat:lobby");
  const joins = [];
  const leaves = [];
  room.on("join", (e) => joins.push(e.client));
  room.on("leave", (e) => leaves.push(e.client));
  room.subscribe();
  a.connect();
  b.connect();
  const { client: idA } = await a.ready();
  const { client: idB } = await b.ready();
  await room.ready();
  const bRoom = b.newSubscription("chat:lobby");
  bRoom.subscribe();
  await bRoom.ready();
  await until(() => joins.includes(idB), "b's join");
  bRoom.unsubscribe();
  await until(() => leaves.includes(idB), "b's leave");

  // A channel a has no Subscription for: its publications go to the client.
  const loose = [];
  a.on("publication", (p) => loose.push(p));
  await s.api("subscribe", { client: idA, channel: "sports" });
  await s.api("publish", { channel: "sports", data: { score: "1-0" } });
  await until(() => loose.length === 1, "the publication of the API's subscription");
  assert.equal(loose[0].channel, "sports");

  // A Subscription object that was not subscribed becomes Subscribed by the push.
  const alerts = a.newSubscription("alerts");
  const subscribed = next(alerts, "subscribed");
  await s.api("subscribe", { client: idA, channel: "alerts" });
  await subscribed;
  assert.equal(alerts.state, "subscribed");
  const unsubscribed = next(alerts, "unsubscribed");
  await s.api("unsubscribe", { client: idA, channel: "alerts" });
  assert.equal((await unsubscribed).code, 8);
  a.disconnect();
  b.disconnect();
});

test("an upgrade refused 503 with Retry-After (admission control) is retried no sooner than it says", async () => {
  const s = await server({ config: "admission:\n  rate: 1\n  burst: 1\n" });
  const first = client(s.base);
  first.connect();
  await first.ready();
  const refusals = async () => {
    const text = await (await fetch(s.base + "/metrics")).text();
    const m = text.match(/^herald_handshake_refusals_total\{reason="rate_node"\} (\d+)$/m);
    return m ? Number(m[1]) : 0;
  };
  // Its own backoff would come back within 50-100ms, several times over
  // the second the server asked it to stay away.
  const second = client(s.base, { minReconnectDelay: 50, maxReconnectDelay: 100 });
  second.connect();
  await second.ready();
  assert.equal(await refusals(), 1, "the refused client came back before Retry-After");
  first.disconnect();
  second.disconnect();
});
