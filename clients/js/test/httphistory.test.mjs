// Recovery through GET /history/: the client in Node against a real
// `herald serve` binary whose namespace sets history_http.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import WebSocket from "ws";
import { Client } from "../dist/index.js";
import { startHerald, until } from "./lib/herald.mjs";

const servers = [];
after(async () => {
  for (const s of servers) await s.kill();
});

const config =
  "namespaces:\n" +
  "  feed: {history_size: 500, history_ttl: 5m, history_http: true}\n" +
  "  small: {history_size: 5, history_ttl: 5m, history_http: true}\n" +
  "  plain: {history_size: 500, history_ttl: 5m}\n";

// The page reads the client makes, seen on the way to the real fetch.
// With failing set, they fail as a network error would.
const reads = [];
let failing = false;
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init) => {
  if (String(url).includes("/history/")) {
    reads.push(String(url));
    if (failing) return Promise.reject(new TypeError("fetch failed"));
  }
  return realFetch(url, init);
};

async function recoverAfterMissing(channel, missed, kept = Infinity) {
  const s = await startHerald({ config });
  servers.push(s);
  const c = new Client(s.base, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 500 });
  const pubs = [];
  const sub = c.newSubscription(channel);
  sub.on("publication", (p) => pubs.push(p.data));
  sub.subscribe();
  c.connect();
  const first = await sub.ready();
  await s.api("publish", { channel, data: 0 });
  await until(() => pubs.length === 1, "the first publication");
  c.disconnect();
  for (let i = 1; i <= missed; i++) await s.api("publish", { channel, data: i });
  reads.length = 0;
  const events = [];
  sub.on("subscribed", (e) => events.push(e));
  c.connect();
  await until(() => events.length === 1, "the resubscribe");
  await until(() => pubs.length >= Math.min(missed, kept) + 1, "the recovered publications");
  c.disconnect();
  return { first, again: events[0], pubs };
}

test("with history_http the client reads what it missed from GET /history/ first, then recovers the rest over the connection", async () => {
  const { first, again, pubs } = await recoverAfterMissing("feed:scores", 250);
  assert.equal(first.recoverable, true);
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, true);
  assert.deepEqual(pubs, Array.from({ length: 251 }, (_, i) => i), "every publication once, in order");
  // Pages of 100 after offset 1: 2..101, 102..201, and the open end 202..251.
  assert.equal(reads.length, 3, reads.join("\n"));
  assert.match(reads[0], /\/history\/feed%3Ascores\?epoch=[^&]+&since=1$/);
  assert.match(reads[2], /since=201$/);
});

test("without history_http the client recovers over the connection only", async () => {
  const { again, pubs } = await recoverAfterMissing("plain:scores", 20);
  assert.equal(again.recovered, true);
  assert.equal(pubs.length, 21);
  assert.deepEqual(reads, []);
});

test("when GET /history/ fails the subscribe recovers everything over the connection", async () => {
  failing = true;
  try {
    const { again, pubs } = await recoverAfterMissing("feed:down", 120);
    assert.equal(again.recovered, true);
    assert.deepEqual(pubs, Array.from({ length: 121 }, (_, i) => i));
    assert.equal(reads.length, 1, "one failed read, no retry loop");
  } finally {
    failing = false;
  }
});

test("a trimmed history: the page shows the gap, nothing is taken from it, and the subscribe says not recovered", async () => {
  const { again, pubs } = await recoverAfterMissing("small:scores", 20, 5);
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, false);
  assert.deepEqual(pubs, [0, 16, 17, 18, 19, 20], "what is kept, once");
  assert.equal(reads.length, 1);
});
