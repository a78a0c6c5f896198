// Unit tests of the pure parts: backoff, refresh timing, framing, the
// duplicate and gap rules, URLs and error naming.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoff, refreshDelay } from "../dist/unit.js";
import { batch, decodeFrame, utf8Length } from "../dist/unit.js";
import { place } from "../dist/unit.js";
import { endpointURL, historyURL } from "../dist/unit.js";
import { codeName, HeraldError } from "../dist/index.js";

test("backoff: full jitter over [0, min(max, min*2^n)), the bound doubling and capped", () => {
  const bounds = [200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000, 20000];
  bounds.forEach((b, n) => {
    assert.equal(backoff(n, 200, 20000, () => 0), 0);
    assert.equal(backoff(n, 200, 20000, () => 0.5), b / 2);
    assert.ok(backoff(n, 200, 20000, () => 0.999999) < b);
  });
  assert.equal(backoff(5000, 200, 20000, () => 0.5), 10000, "a huge n stays at the cap");
});

test("refreshDelay: between 80% and 90% of the ttl, a second before expiry, never before half", () => {
  assert.equal(refreshDelay(100, () => 0), 80000);
  assert.equal(refreshDelay(100, () => 0.999999), 89999);
  assert.equal(refreshDelay(5, () => 0.5), 4000, "min(4250, 4000)");
  assert.equal(refreshDelay(1, () => 0.5), 500, "half the ttl, not a refresh loop");
  assert.equal(refreshDelay(2, () => 0), 1000);
});

test("decodeFrame: one message per line, empty lines and \\r ignored, non-objects refused", () => {
  assert.deepEqual(decodeFrame('{"id":1,"pong":{}}\n\n{"ping":{}}\r\n'), [{ id: 1, pong: {} }, { ping: {} }]);
  assert.throws(() => decodeFrame("[1]"));
  assert.throws(() => decodeFrame('{"a":1}\nnot json'));
  assert.throws(() => decodeFrame("null"));
});

test("batch: commands joined with newlines up to the size limit; a long one alone", () => {
  assert.deepEqual(batch(["aaa", "bbb", "ccc"], 7), ["aaa\nbbb", "ccc"]);
  assert.deepEqual(batch(["aaa", "bbbbbbbbbb", "c"], 7), ["aaa", "bbbbbbbbbb", "c"]);
  assert.deepEqual(batch(["é", "é"], 4), ["é", "é"], "é is two bytes: together five");
  assert.equal(utf8Length("aé€😀"), 1 + 2 + 3 + 4);
});

test("place: the live publication rules of the spec", () => {
  const e = "e1";
  assert.deepEqual(place(undefined, 5, e), { deliver: true, pos: { offset: 5, epoch: e } });
  assert.equal(place({ offset: 5, epoch: e }, 5, e).deliver, false, "same offset: duplicate");
  assert.equal(place({ offset: 5, epoch: e }, 3, undefined).deliver, false, "older, no epoch: duplicate");
  assert.deepEqual(place({ offset: 5, epoch: e }, 6, e), { deliver: true, pos: { offset: 6, epoch: e } });
  assert.deepEqual(place({ offset: 5, epoch: e }, 8, e), { deliver: true, gap: 6, pos: { offset: 8, epoch: e } });
  assert.deepEqual(place({ offset: 5, epoch: e }, 1, "e2"), { deliver: true, pos: { offset: 1, epoch: "e2" } });
  assert.deepEqual(place({ offset: 5, epoch: e }, 4, "e2"), { deliver: true, gap: 1, pos: { offset: 4, epoch: "e2" } });
});

test("endpointURL: base URLs and the endpoint itself", () => {
  assert.equal(endpointURL("http://h:8000"), "ws://h:8000/connection/websocket");
  assert.equal(endpointURL("https://h/prefix/"), "wss://h/prefix/connection/websocket");
  assert.equal(endpointURL("ws://h/connection/websocket"), "ws://h/connection/websocket");
  assert.equal(endpointURL("wss://h/x/connection/websocket?a=1"), "wss://h/x/connection/websocket?a=1");
});

test("historyURL: next to the endpoint, the channel escaped as one path segment", () => {
  assert.equal(historyURL("ws://h:8000/connection/websocket", "news", "e1", 0), "http://h:8000/history/news?epoch=e1&since=0");
  assert.equal(
    historyURL("wss://h/prefix/connection/websocket?a=1", "feed:live/scores#1,2", "a b", 7),
    "https://h/prefix/history/feed%3Alive%2Fscores%231%2C2?epoch=a%20b&since=7",
  );
});

test("errors carry the code, its name and the server's message", () => {
  const e = new HeraldError(103, "publish to \"x\" is not allowed");
  assert.equal(e.message, 'herald: 103 permission_denied: publish to "x" is not allowed');
  assert.equal(e.codeName, "permission_denied");
  assert.equal(e.temporary, false);
  assert.equal(new HeraldError(114, "").temporary, true);
  assert.equal(codeName(4503), "force_disconnect");
  assert.equal(codeName(2), "no_ping");
  assert.equal(codeName(4777), "error");
});
