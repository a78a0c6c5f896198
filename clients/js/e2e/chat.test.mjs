// Two people chat through the demo page of `herald serve --dev` in a real
// Chromium; the server is killed and started again while they are in it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { demo, has, serverAndBrowser, until } from "./harness.mjs";

const env = serverAndBrowser();

/** open gives each person a browser context of their own: another user, another shared worker. */
async function open(t, name) {
  const ctx = await env.context(t, { viewport: { width: 1000, height: 640 } });
  const page = await ctx.newPage();
  page.on("pageerror", (err) => console.error(`[${name}] page error:`, err));
  await page.goto(`${env.herald.base}/?name=${name}`);
  await demo.waitFor(page, `${name} connected`, demo.badge, (b) => b.state === "connected");
  return page;
}


test("two pages chat, see each other typing, and get every message across a server restart", async (t) => {
  const ann = await open(t, "Ann");
  const bob = await open(t, "Bob");

  // Presence shows the names from the tokens the demo minted.
  await demo.waitFor(ann, "Ann sees Bob online", demo.online, (o) => o.includes("Bob") && o.includes("Ann"));
  await demo.waitFor(bob, "Bob sees Ann online", demo.online, (o) => o.includes("Bob") && o.includes("Ann"));

  // Typing is an ephemeral publication that the typist does not get back.
  // Typing is sent at most every 2 s and shown for 3.5 s: keep typing
  // until it shows, so that a slow poll cannot miss it.
  await until(async () => {
    await ann.type("#text", "h");
    return (await demo.typing(bob)) === "Ann is typing…";
  }, "Bob sees Ann typing");
  assert.equal(await demo.typing(ann), "");
  await ann.fill("#text", "");

  await demo.send(ann, "hello from Ann");
  await demo.waitFor(bob, "Bob gets Ann's message", demo.messages, has("Annhello from Ann"));
  await demo.send(bob, "hi Ann");
  await demo.waitFor(ann, "Ann gets Bob's answer", demo.messages, has("Bobhi Ann"));

  // Rooms: Bob moves to #random (Ann sees him leave), then comes back
  // and gets the lobby's history on join.
  await bob.click('#rooms li[data-room="random"]');
  await demo.waitFor(bob, "Bob in #random", (p) => p.locator("#room-title").textContent(), (t) => t === "# random");
  await demo.waitFor(ann, "Ann sees Bob leave", demo.online, (o) => o.join() === "Ann");
  await demo.send(ann, "Bob is away");
  await bob.click('#rooms li[data-room="lobby"]');
  await demo.waitFor(bob, "Bob gets the lobby's history", demo.messages,
    (m) => has("Annhello from Ann")(m) && has("Bobhi Ann")(m) && has("AnnBob is away")(m));
  await demo.waitFor(ann, "Ann sees Bob back", demo.online, (o) => o.join() === "Ann,Bob");

  // The server drops Ann's connection (4006: reconnect). Her client comes
  // back in the same epoch and recovers what was published meanwhile,
  // without a duplicate; the badge says so.
  const annUser = await ann.evaluate(() => localStorage.getItem("herald-demo-user"));
  await env.herald.api("disconnect", { user: annUser, code: 4006 });
  await env.herald.api("publish", { channel: "chat:lobby", data: { type: "msg", name: "backend", text: "while Ann reconnected" } });
  await demo.waitFor(ann, "Ann recovered", demo.badge, (b) => b.state === "connected" && b.reconnects === "1" && b.recovery === "recovered");
  const recovered = await demo.waitFor(ann, "Ann has the message", demo.messages, has("backendwhile Ann reconnected"));
  assert.equal(recovered.filter((m) => m === "Annhello from Ann").length, 1);

  // Kill the server: both pages notice (the socket closes) and retry.
  await env.herald.kill();
  for (const [name, page] of [["Ann", ann], ["Bob", bob]]) {
    await demo.waitFor(page, `${name} sees the connection lost`, demo.badge, (b) => b.state !== "connected");
  }
  // Meanwhile, 1: Bob types while disconnected; the page holds it.
  await demo.send(bob, "sent while the server was down");
  await bob.locator("#messages li.pending").waitFor();

  // Meanwhile, 2: right after the restart the backend publishes through
  // the API, whether or not the pages are back yet.
  await env.herald.start();
  await env.herald.api("publish", { channel: "chat:lobby", data: { type: "msg", name: "backend", text: "published after the restart" } });

  // The memory broker starts a new epoch: nothing can be recovered, so
  // the pages say so and refetch history, which has both messages.
  for (const [name, page, n] of [["Ann", ann, "2"], ["Bob", bob, "1"]]) {
    const b = await demo.waitFor(page, `${name} back`, demo.badge, (b) => b.state === "connected" && b.reconnects === n);
    await demo.waitFor(page, `${name} refetched`, demo.badge, (b) => b.recovery === "history refetched (new epoch)");
    await demo.waitFor(page, `${name} has both messages`, demo.messages,
      (m) => has("Bobsent while the server was down")(m) && has("backendpublished after the restart")(m));
    assert.match(b.text, new RegExp(`${n} reconnects?`));
  }
  assert.equal(await bob.locator("#messages li.pending").count(), 0);

  // And the chat goes on.
  await demo.send(ann, "still here");
  await demo.waitFor(bob, "Bob gets Ann's message after the restart", demo.messages, has("Annstill here"));

  if (process.env.HERALD_DEMO_SCREENSHOT) {
    await until(async () => {
      await bob.type("#text", "o");
      return (await demo.typing(ann)) === "Bob is typing…";
    }, "Ann sees Bob typing");
    await ann.screenshot({ path: process.env.HERALD_DEMO_SCREENSHOT });
  }
});
