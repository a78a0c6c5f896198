// The transport fallback in a real Chromium: a page using herald.min.js
// and herald-fallback.min.js (as the demo serves them) behind a real HTTP
// proxy that refuses every Upgrade connects, subscribes, publishes and
// receives on the fallback transport, and comes back after the server is
// killed and started again; through the same proxy passing the upgrade the
// page stays on WebSocket. One node and a Node proxy; fallback-nginx.test.mjs
// is the same behind nginx, over two nodes and Redis.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { seen, serverAndBrowser, waitSeen } from "./harness.mjs";
import { noUpgradeProxy } from "../test/lib/proxy.mjs";

const env = serverAndBrowser();

// The page: everything it does is visible to the test in window.seen.
const page = `<!doctype html><meta charset="utf-8"><title>fallback</title>
<script src="/demo/herald.min.js"></script><script src="/demo/herald-fallback.min.js"></script>
<script>
  window.seen = { transports: [], pubs: [], subscribed: [] };
  const c = new Herald.Client(location.origin, { minReconnectDelay: 100, maxReconnectDelay: 1000, debug: (l) => console.log(l) });
  c.on("connected", (e) => window.seen.transports.push(e.transport));
  const sub = c.newSubscription("chat:fallback");
  sub.on("publication", (p) => window.seen.pubs.push(p.data));
  sub.on("subscribed", (e) => window.seen.subscribed.push(e));
  sub.subscribe();
  c.connect();
  window.send = (text) => sub.publish({ text });
</script>`;

const closers = [];
after(async () => {
  for (const c of closers) await c();
});



test("behind a proxy that refuses the upgrade the page runs on sse, and comes back on a fallback after the server is killed", async (t) => {
  const px = await noUpgradeProxy(env.herald.base, { "/fallback.html": page });
  closers.push(px.close);
  const proxy = px.base;
  const ctx = await env.context(t);
  const p = await ctx.newPage();
  p.on("pageerror", (err) => console.error("page error:", err));
  await p.goto(`${proxy}/fallback.html`);
  await waitSeen(p, "connected and subscribed", (s) => s.transports.length === 1 && s.subscribed.length === 1);
  assert.deepEqual((await seen(p)).transports, ["sse"]);
  await p.evaluate(() => window.send("from the page"));
  await env.herald.api("publish", { channel: "chat:fallback", data: { text: "from the backend" } });
  await waitSeen(p, "both publications", (s) => s.pubs.length === 2);
  assert.deepEqual((await seen(p)).pubs.map((d) => d.text), ["from the page", "from the backend"]);

  await env.herald.kill();
  await env.herald.start();
  const s = await waitSeen(p, "back and subscribed again", (s) => s.transports.length === 2 && s.subscribed.length === 2);
  // While the server was down every transport was tried and failed; back
  // up, the one that connects is a fallback again, never websocket.
  assert.ok(["sse", "http_stream"].includes(s.transports[1]), s.transports.join());
  assert.equal(s.subscribed[1].wasRecovering, true);
  await env.herald.api("publish", { channel: "chat:fallback", data: { text: "after the restart" } });
  await waitSeen(p, "a publication after the restart", (s) => s.pubs.some((d) => d.text === "after the restart"));
});

test("through a proxy that passes the upgrade the same page stays on websocket", async (t) => {
  const ctx = await env.context(t);
  const p = await ctx.newPage();
  // The same page through the normal proxy, which passes the upgrade.
  const px = await noUpgradeProxy(env.herald.base, { "/fallback.html": page }, true);
  closers.push(px.close);
  await p.goto(`${px.base}/fallback.html`);
  const s = await waitSeen(p, "connected", (s) => s.transports.length === 1 && s.subscribed.length === 1);
  assert.deepEqual(s.transports, ["websocket"], JSON.stringify(s));
});
