// `shared: true` in a real Chromium: the tabs of one browser share one
// WebSocket through the SharedWorker, each still gets its own channels'
// publications, and closing the tab that opened the worker changes
// nothing for the others. Counted on the server with the API's info.
import assert from "node:assert/strict";
import { test } from "node:test";
import { apiKey, demo, has, serverAndBrowser, until } from "./harness.mjs";

const env = serverAndBrowser();

async function tab(ctx, query) {
  const page = await ctx.newPage();
  page.on("pageerror", (err) => console.error(`[${query}] page error:`, err));
  await page.goto(`${env.herald.base}/?name=Cat&${query}`);
  await demo.waitFor(page, `tab ${query} connected`, demo.badge, (b) => b.state === "connected");
  return page;
}

const publish = (room, text) => env.herald.api("publish", { channel: `chat:${room}`, data: { type: "msg", name: "backend", text } });
/** settled waits until the server's counts are n clients and s subscriptions. */
const settled = (clients, subs) =>
  until(async () => {
    const i = await env.herald.info();
    return i.num_clients === clients && i.num_subscriptions === subs && i;
  }, `info: ${clients} clients, ${subs} subscriptions`);

test("tabs with shared: true make one connection, get their own channels, and outlive the first tab", async (t) => {
  const ctx = await env.context(t);
  const first = await tab(ctx, "room=lobby");
  const second = await tab(ctx, "room=lobby");
  const third = await tab(ctx, "room=random");
  // One connection for three tabs; two channels (lobby counted once).
  await settled(1, 2);

  await publish("lobby", "to the lobby");
  await publish("random", "to random");
  for (const page of [first, second]) await demo.waitFor(page, "lobby tabs get the lobby", demo.messages, has("to the lobby"));
  await demo.waitFor(third, "the random tab gets random", demo.messages, has("to random"));
  // Each tab gets only its channels: the lobby tabs never saw "to random".
  for (const page of [first, second]) assert.ok(!has("to random")(await demo.messages(page)));
  assert.ok(!has("to the lobby")(await demo.messages(third)));

  // The first tab opened the worker; closing it (pagehide says goodbye)
  // leaves the connection and the lobby subscription, still wanted by the
  // second tab, in place. Closing the third frees its channel.
  await first.close();
  await third.close();
  await settled(1, 1);
  await publish("lobby", "after the first tab closed");
  await demo.waitFor(second, "the second tab still receives", demo.messages, has("after the first tab closed"));
  const b = await demo.badge(second);
  assert.equal(b.state, "connected");
  assert.equal(b.reconnects, "0", "the shared connection was never re-made");

  // The first tab gave the worker its token at the start; reconnecting
  // now needs a new one, which the worker asks of the tab still open.
  await env.herald.kill();
  await env.herald.start();
  await demo.waitFor(second, "the second tab back", demo.badge, (b) => b.state === "connected" && b.reconnects === "1");
  await settled(1, 1);
  await publish("lobby", "after the restart");
  await demo.waitFor(second, "the second tab receives after the restart", demo.messages, has("after the restart"));
  await ctx.close();
  await settled(0, 0);
});

test("a tab that stops answering the worker's heartbeat is dropped with its subscriptions, and comes back", async (t) => {
  const ctx = await env.context(t);
  const live = await tab(ctx, "room=lobby");
  const stuck = await tab(ctx, "room=random");
  await settled(1, 2);
  // A hung tab runs no event handlers, so it can neither say goodbye nor
  // answer the worker's pings. This one hangs in a loop of synchronous
  // requests to the server API until the server shows its subscription
  // gone: only the heartbeat can have dropped it.
  const dropped = await stuck.evaluate(
    ({ key, timeout }) => {
      const deadline = Date.now() + timeout;
      while (Date.now() < deadline) {
        const x = new XMLHttpRequest();
        x.open("POST", "/api/info", false);
        x.setRequestHeader("Authorization", "apikey " + key);
        x.send("{}");
        if (JSON.parse(x.responseText).nodes[0].num_subscriptions === 1) return true;
      }
      return false;
    },
    { key: apiKey, timeout: 60_000 },
  );
  assert.ok(dropped, "the worker did not drop the hung tab within 60 s");
  await settled(1, 1);
  await publish("lobby", "the live tab is unaffected");
  await demo.waitFor(live, "the live tab receives", demo.messages, has("the live tab is unaffected"));
  // Alive again, it answers the pings queued meanwhile; the worker does
  // not know it any more and says "who", and the tab registers again.
  await settled(1, 2);
  await publish("random", "welcome back");
  await demo.waitFor(stuck, "the tab that hung receives again", demo.messages, has("welcome back"));
  await ctx.close();
  await settled(0, 0);
});

test("the tab's SharedClient has Client's API: calls, errors with their codes, subscriptions of its own", async (t) => {
  const ctx = await env.context(t);
  const page = await tab(ctx, "room=lobby");
  // A second client in the same tab joins the same worker and connection.
  const got = await page.evaluate(async () => {
    const c = new Herald.Client(location.origin, { shared: true });
    c.connect();
    const connected = await c.ready(20000);
    const echo = await c.rpc("echo", { x: 1 });
    let error;
    try {
      await c.publish("chat:no spaces", { type: "msg", text: "x" });
    } catch (e) {
      error = { name: e.name, code: e.code, codeName: e.codeName, herald: e instanceof Herald.HeraldError, channel: e.channel };
    }
    const sub = c.newSubscription("chat:api");
    window.apiPubs = [];
    sub.on("publication", (p) => window.apiPubs.push(p.data.text));
    sub.subscribe();
    const subscribed = await sub.ready(20000);
    window.apiClient = c;
    return { shared: !(c instanceof Herald.Client), user: connected.user, echo, error, state: c.state, subscribed, subState: sub.state };
  });
  assert.equal(got.shared, true);
  const wrongWorker = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const c = new Herald.Client(location.origin, { shared: { workerUrl: "/demo/no-such-worker.js" } });
        c.on("error", (e) => resolve(e.error.message));
        c.connect();
      }),
  );
  assert.match(wrongWorker, /no-such-worker\.js failed to start; check shared\.workerUrl/);
  assert.ok(got.user, "the connection carries the demo token's user");
  assert.deepEqual(got.echo, { x: 1 });
  assert.equal(got.error.name, "HeraldError");
  assert.equal(got.error.code, 109);
  assert.equal(got.error.codeName, "invalid_channel");
  assert.equal(got.error.herald, true);
  assert.equal(got.state, "connected");
  assert.equal(got.subState, "subscribed");
  assert.equal(got.subscribed.channel, "chat:api");
  await settled(1, 2);

  await env.herald.api("publish", { channel: "chat:api", data: { text: "to the API client" } });
  await until(() => page.evaluate(() => window.apiPubs.includes("to the API client")), "the second client's publication");
  // The demo's own client in the same tab does not get chat:api.
  assert.ok(!has("to the API client")(await demo.messages(page)));

  // Its unsubscribe ends only its own subscription; disconnect() only its
  // own view: the demo's client stays connected on the one connection.
  await page.evaluate(() => {
    window.apiClient.getSubscription("chat:api").unsubscribe();
    window.apiClient.disconnect();
  });
  await settled(1, 1);
  assert.equal(await page.evaluate(() => window.apiClient.state), "disconnected");
  // A disconnected client's ready() fails at once with why (3 client_closed).
  assert.equal(await page.evaluate(() => window.apiClient.ready().then(() => "resolved", (e) => e.codeName)), "client_closed");
  assert.equal((await demo.badge(page)).state, "connected");
});

test("without SharedWorker (Chrome on Android) each tab connects by itself", async (t) => {
  const ctx = await env.context(t);
  await ctx.addInitScript(() => {
    delete window.SharedWorker;
  });
  const one = await tab(ctx, "room=lobby");
  const two = await tab(ctx, "room=lobby");
  await settled(2, 2);
  await publish("lobby", "to both tabs");
  for (const page of [one, two]) await demo.waitFor(page, "each tab receives", demo.messages, has("to both tabs"));
  await ctx.close();
  await settled(0, 0);
});
