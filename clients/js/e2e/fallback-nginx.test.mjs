// The transport fallback as a user behind a corporate proxy meets it: a
// real nginx that strips Upgrade and Connection (the test fixture
// deploy/nginx/strip-upgrade.conf) in front of two Herald nodes sharing a
// real redis-server, round robin with no stickiness. A real Chromium page
// using herald.min.js and herald-fallback.min.js connects on a fallback
// transport, subscribes, publishes and receives, and recovers every
// publication made while the node holding its stream was SIGKILLed.
// Through the shipped nginx configuration (deploy/nginx/herald.conf) the
// same page stays on WebSocket.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchChromium, seen, until, waitSeen } from "./harness.mjs";
import { startNginx, startNode, startRedis } from "./cluster.mjs";

const channel = "chat:nginx";

// The page: everything it does is visible to the test in window.seen.
const page = `<!doctype html><meta charset="utf-8"><title>fallback</title>
<script src="/demo/herald.min.js"></script><script src="/demo/herald-fallback.min.js"></script>
<script>
  window.seen = { transports: [], pubs: [], subscribed: [], gaps: [] };
  const c = new Herald.Client(location.origin, { minReconnectDelay: 100, maxReconnectDelay: 1000 });
  c.on("connected", (e) => window.seen.transports.push(e.transport));
  c.on("error", (e) => e.name === "GapError" && window.seen.gaps.push(String(e)));
  const sub = c.newSubscription(${JSON.stringify(channel)});
  sub.on("publication", (p) => window.seen.pubs.push(p.data.n));
  sub.on("subscribed", (e) => window.seen.subscribed.push({ wasRecovering: e.wasRecovering, recovered: e.recovered }));
  sub.subscribe();
  c.connect();
  window.send = (n) => sub.publish({ n });
</script>`;

let redis, nodes, browser;
const closers = [];
before(async () => {
  redis = await startRedis();
  closers.push(redis.close);
  // Each node by name, so that info tells which one holds the page.
  nodes = [];
  for (const name of ["node1", "node2"]) {
    const n = await startNode(redis.addr, `name: ${name}\nchannel:\n  history_size: 1000\n  history_ttl: 10m\n`);
    n.name = name;
    nodes.push(n);
    closers.push(() => n.kill());
  }
  browser = await launchChromium();
  closers.push(() => browser.close());
});
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** holder is the node holding the page's connection, as info tells. */
async function holder() {
  const info = await until(async () => {
    const out = await nodes[0].api("info").catch(() => null);
    const busy = out?.nodes.filter((n) => n.num_clients > 0) || [];
    return busy.length === 1 && busy[0];
  }, "one node holding the page's connection");
  return nodes.find((n) => n.name === info.name);
}

async function openPage(t, base) {
  const ctx = await browser.newContext();
  t.after(() => ctx.close());
  const p = await ctx.newPage();
  p.on("pageerror", (err) => console.error("page error:", err));
  await p.goto(`${base}/fallback.html`);
  return p;
}

test("behind nginx stripping the upgrade the page runs on a fallback over two nodes and loses nothing when its node is killed", async (t) => {
  const px = await startNginx("strip", nodes.map((n) => `127.0.0.1:${n.port}`), { "/fallback.html": page });
  t.after(px.close);
  const p = await openPage(t, px.base);
  await waitSeen(p, "connected and subscribed", (s) => s.transports.length === 1 && s.subscribed.length === 1);
  const first = (await seen(p)).transports[0];
  assert.ok(["sse", "http_stream"].includes(first), `connected on ${first}`);

  // Round robin: the page's POSTs reach both nodes, one of them not the
  // stream's (relayed through Redis), and the backend publishes on either.
  for (let n = 1; n <= 4; n++) await p.evaluate((n) => window.send(n), n);
  await nodes[0].api("publish", { channel, data: { n: 5 } });
  await nodes[1].api("publish", { channel, data: { n: 6 } });
  await waitSeen(p, "six publications", (s) => s.pubs.length === 6);
  assert.deepEqual((await seen(p)).pubs, [1, 2, 3, 4, 5, 6]);
  // The upgrade never reached a node, and the page's commands were
  // POSTed to both: those on the node without the stream came through
  // the relay.
  const reqs = px.requests();
  const ws = reqs.filter((r) => r.path === "/connection/websocket");
  assert.ok(ws.length > 0 && ws.every((r) => r.status !== "101"), JSON.stringify(ws));
  const posts = new Set(reqs.filter((r) => r.method === "POST" && r.path === "/connection/emulation" && r.status === "204").map((r) => r.upstream));
  assert.equal(posts.size, 2, JSON.stringify(reqs));

  // SIGKILL the node holding the stream and publish on the other while
  // the page is cut off: it must come back and recover them.
  const dead = await holder();
  const alive = nodes.find((n) => n !== dead);
  await dead.kill();
  for (let n = 7; n <= 9; n++) await alive.api("publish", { channel, data: { n } });
  const s = await waitSeen(p, "back and subscribed again", (s) => s.transports.length === 2 && s.subscribed.length === 2);
  assert.ok(["sse", "http_stream"].includes(s.transports[1]), s.transports.join());
  await alive.api("publish", { channel, data: { n: 10 } });
  const end = await waitSeen(p, "every publication", (s) => s.pubs.includes(10));
  assert.deepEqual(end.subscribed[1], { wasRecovering: true, recovered: true }, JSON.stringify(end));
  assert.deepEqual(end.pubs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], JSON.stringify(end));
  assert.deepEqual(end.gaps, []);
  await dead.start();
});

test("through the shipped nginx configuration the same page stays on websocket", async (t) => {
  const px = await startNginx("normal", nodes.map((n) => `127.0.0.1:${n.port}`), { "/fallback.html": page });
  t.after(px.close);
  const p = await openPage(t, px.base);
  const s = await waitSeen(p, "connected and subscribed", (s) => s.transports.length === 1 && s.subscribed.length === 1);
  assert.deepEqual(s.transports, ["websocket"], JSON.stringify(s));
  await nodes[1].api("publish", { channel, data: { n: 11 } });
  await waitSeen(p, "a publication on websocket", (s) => s.pubs.includes(11));
});
