// The admin web UI in a real Chromium against a live cluster: two herald
// nodes on one real redis-server. The operator logs in with the admin
// secret, sees both nodes, finds a user's connections with their
// timelines (one cut by the server API with 4503), sees a channel's
// subscribers on both nodes, taps it while publishing from the form, and
// sees the disconnect in the chart; the API refuses the page's requests
// without the secret.
//
// HERALD_ADMIN_SCREENSHOTS=DIR saves a screenshot of each page in DIR
// (docs/ keeps them: npm run screenshot:admin).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { hs256, startHerald } from "../test/lib/herald.mjs";
import { launchChromium, until } from "./harness.mjs";
import { startRedis } from "./cluster.mjs";

const adminSecret = "e2e-admin-secret";
const hmacSecret = "e2e-admin-hmac-secret-0123456789abcdef";
const shots = process.env.HERALD_ADMIN_SCREENSHOTS;

let redis, a, b, browser;
const sockets = [];

before(async () => {
  redis = await startRedis();
  const env = (name) => ({
    HERALD_BROKER: "redis",
    HERALD_REDIS_ADDRESS: redis.addr,
    HERALD_NAME: name,
    HERALD_ADMIN_SECRET: adminSecret,
    HERALD_TOKEN_HMAC_SECRET: hmacSecret,
  });
  [a, b] = await Promise.all([startHerald({ env: env("node-a") }), startHerald({ env: env("node-b") })]);
  browser = await launchChromium();
});

after(async () => {
  for (const ws of sockets) ws.terminate();
  await browser?.close();
  await Promise.all([a?.kill(), b?.kill()]);
  await redis?.close();
});

/** client connects to node as user and subscribes to channels, answering pings as a client does. */
async function client(node, user, ...channels) {
  const ws = new WebSocket(node.base.replace("http", "ws") + "/connection/websocket", { headers: { "User-Agent": "admin-e2e/1" } });
  sockets.push(ws);
  const frames = [];
  ws.on("message", (data) => {
    for (const f of String(data).split("\n")) {
      frames.push(f);
      if (f === '{"ping":{}}') ws.send('{"pong":{}}');
    }
  });
  ws.closed = new Promise((r) => ws.once("close", (code) => r(code)));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const token = hs256(hmacSecret, { sub: user, exp: Math.floor(Date.now() / 1000) + 3600 });
  ws.send(JSON.stringify({ id: 1, connect: { token } }));
  channels.forEach((channel, i) => ws.send(JSON.stringify({ id: 2 + i, subscribe: { channel } })));
  await until(() => frames.filter((f) => /"id":\d+,"(connect|subscribe)"/.test(f)).length === 1 + channels.length, `${user}'s connect and subscribe replies`);
  ws.frames = frames;
  return ws;
}

/** text polls a locator's text until ok(text), and returns it. */
async function text(locator, what, ok) {
  let seen;
  try {
    return await until(async () => ok((seen = await locator.textContent().catch(() => ""))) && seen, what);
  } catch (err) {
    throw new Error(`${err.message} (last seen: ${JSON.stringify(seen)})`);
  }
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, `admin-${name}.png`), fullPage: true });
}

test("the admin UI shows a two-node cluster, a user's timeline, a channel's tap and the disconnects", async (t) => {
  // alice is cut by the server (4503) and comes back; bob and carol read news on both nodes.
  const alice = await client(b, "alice", "news");
  await client(a, "bob", "news");
  await client(b, "carol", "news", "chat:lobby");
  const cut = await a.api("disconnect", { user: "alice" });
  assert.equal(cut.error, undefined, JSON.stringify(cut));
  assert.equal(await alice.closed, 4503);
  const alice2 = await client(a, "alice");
  // Two more ends for the chart: one told to reconnect, one gone without a close frame.
  const erin = await client(a, "erin");
  await a.api("disconnect", { user: "erin", code: 4006 });
  assert.equal(await erin.closed, 4006);
  const dave = await client(b, "dave");
  dave.terminate();

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${a.base}/admin/`);

  // Without the secret the API refuses, whatever the page asks.
  const refused = await page.evaluate(async () => {
    const out = [];
    for (const path of ["nodes", "connections?user=alice", "channels", "disconnects", "tap?channel=news"]) {
      const r = await fetch(`/admin/api/${path}`);
      out.push([path, r.status, (await r.json()).error?.code]);
      await r.body?.cancel().catch(() => {});
    }
    const p = await fetch("/admin/api/publish", { method: "POST", body: '{"channel":"news","data":1}', headers: { Authorization: "admin wrong" } });
    out.push(["publish", p.status, (await p.json()).error?.code]);
    return out;
  });
  for (const [path, status, code] of refused) assert.deepEqual([path, status, code], [path, 401, 101]);

  // A wrong secret stays on the login form; the right one opens the nodes page.
  await page.locator("#login").waitFor();
  await page.fill("#secret", "not-the-secret");
  await page.click("#login button");
  await text(page.locator("#login-error"), "the refusal", (s) => s.includes("Authorization: admin"));
  await page.fill("#secret", adminSecret);
  await page.click("#login button");
  await page.locator("#page-nodes").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("herald-admin-secret")), adminSecret);
  assert.ok(!page.url().includes(adminSecret), "the secret is not in the URL");
  assert.equal((await ctx.cookies()).length, 0, "no cookie");

  // Both nodes, with their clients (bob and alice on a, carol on b) once
  // each has announced its counts.
  let rows;
  await until(async () => {
    rows = await page.locator("#nodes tbody tr").evaluateAll((trs) => trs.map((tr) => [tr.dataset.node, tr.cells[4].textContent]));
    const n = Object.fromEntries(rows);
    return n["node-a"] === "2" && n["node-b"] === "1";
  }, "node-a with 2 clients and node-b with 1").catch((err) => {
    throw new Error(`${err.message} (last seen: ${JSON.stringify(rows)})`);
  });
  await text(page.locator("#nodes tfoot"), "the totals", (s) => s.includes("2 nodes"));
  await shot(page, "nodes");

  // alice's connections: the live one on node-a, the one cut on node-b with its timeline.
  await page.click('nav a[data-page="connections"]');
  await page.fill("#conn-q", "alice");
  await page.click("#conn-search button:not([type])");
  const closedRow = page.locator('#conns tr.conn[data-user="alice"]', { hasText: "closed 4503" });
  await closedRow.waitFor();
  assert.equal(await page.locator('#conns tr.conn[data-user="alice"]').count(), 2);
  await text(page.locator('#conns tr.conn[data-user="alice"]', { hasText: "live" }), "alice live on node-a", (s) => s.includes("node-a"));
  assert.match(await closedRow.textContent(), /node-b/);
  await closedRow.click();
  const tl = page.locator("#conns tr.conn.open + tr.timeline");
  await tl.waitFor();
  const kinds = await tl.locator("ol.events li").evaluateAll((lis) => lis.map((li) => [li.dataset.kind, li.querySelector(".code").textContent]));
  assert.deepEqual(kinds.map(([k]) => k).slice(0, 3), ["handshake", "connect", "subscribe"]);
  assert.deepEqual(kinds.at(-1), ["disconnect", "4503"]);
  assert.match(await tl.textContent(), /admin-e2e\/1/);

  // A live trace of alice sees her live connection's frames, both ways.
  await page.click("#conn-trace");
  await text(page.locator("#trace .lines"), "trace_started from both nodes", (s) => s.includes("node-a") && s.includes("node-b"));
  alice2.send(JSON.stringify({ id: 7, subscribe: { channel: "news" } }));
  await text(page.locator("#trace .lines"), "alice's subscribe in the trace", (s) => s.includes('→ {"id":7,"subscribe"') && s.includes('← {"id":7,"subscribe"'));
  await shot(page, "connections");
  await page.click("#trace .stop");
  await until(() => page.locator("#trace").evaluate((d) => d.dataset.state === "stopped"), "the trace to stop");

  // news has three subscribers (bob, carol, alice) on two nodes; a tap sees what the form publishes.
  await page.click('nav a[data-page="channels"]');
  await text(page.locator('#channels tr[data-channel="news"] td.num'), "news with 3 subscribers", (s) => s === "3");
  assert.equal(await page.locator('#channels tr[data-channel="chat:lobby"] td.num').textContent(), "1");
  await page.click('#channels tr[data-channel="news"] button');
  await until(() => page.locator("#tap").evaluate((d) => d.dataset.state === "tapping"), "the tap to start");
  assert.equal(await page.inputValue("#pub-channel"), "news");
  await page.fill("#pub-data", '{"text": "hello from the admin form"}');
  await page.click("#publish button");
  await text(page.locator("#pub-result"), "the publish result", (s) => s.startsWith("Published to news"));
  await text(page.locator("#tap .lines"), "the publication in the tap", (s) => s.includes('{"text":"hello from the admin form"}'));
  // A tap is no subscriber: the count stays.
  await page.click("#chan-filter button");
  await text(page.locator('#channels tr[data-channel="news"] td.num'), "news still with 3 subscribers", (s) => s === "3");
  await page.fill("#pub-data", "{not json");
  await page.click("#publish button");
  await text(page.locator("#pub-result.error"), "the JSON error", (s) => s.includes("not JSON"));
  await page.fill("#pub-data", '{"text": "second"}');
  await page.click("#publish button");
  await text(page.locator("#tap .lines"), "the second publication", (s) => s.includes('{"text":"second"}'));
  await shot(page, "channels");
  await page.click("#tap-stop");
  await until(() => page.locator("#tap").evaluate((d) => d.dataset.state === "stopped"), "the tap to stop");

  // The chart has alice's 4503 from node-b, asked of node-a.
  await page.click('nav a[data-page="disconnects"]');
  await page.locator('#chart svg rect[data-code="4503"]').waitFor();
  await text(page.locator('#disc-codes tr[data-code="4503"]'), "4503 in the legend", (s) => s.includes("force_disconnect") && s.endsWith("1"));
  await page.locator('#chart svg rect[data-code="0"]').waitFor();
  await page.locator('#chart svg rect[data-code="4006"]').waitFor();
  assert.deepEqual(await page.locator("#disc-codes tbody tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.code)), ["0", "4006", "4503"]);
  await shot(page, "disconnects");

  // Logging out forgets the secret and the pages refuse without it.
  await page.click("#logout");
  await page.locator("#login").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("herald-admin-secret")), null);
  await page.goto(`${a.base}/admin/#connections?user=alice`);
  await page.locator("#login").waitFor();
  assert.equal(await page.locator("#app").isHidden(), true);
});
