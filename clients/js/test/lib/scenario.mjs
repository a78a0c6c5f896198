// scenario.mjs runs the language-neutral client scenarios of
// clients/scenarios (the format is in its README.md) against the
// TypeScript client: a scripted server behind a fake WebSocket, virtual
// time, and a seeded random, so that every backoff and ping deadline is
// checked exactly and the run takes milliseconds.

/** VirtualClock runs timers when the scenario says time passes, never by itself. */
class VirtualClock {
  t = 0;
  seq = 0;
  timers = new Map();
  now = () => this.t;
  setTimeout = (fn, ms) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms || 0), fn, id });
    return id;
  };
  clearTimeout = (id) => this.timers.delete(id);
  /** next is the earliest timer, ties in the order they were set. */
  next() {
    let best;
    for (const t of this.timers.values()) if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    return best;
  }
}

/** seeded is a small deterministic PRNG (mulberry32), so a run repeats exactly. */
function seeded(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const settle = () => new Promise((r) => setImmediate(r));

/** expand turns a scenario with "for" into one run per value. */
export function expand(sc) {
  if (!sc.for) return [sc];
  const [[key, values]] = Object.entries(sc.for);
  return values.map((v) => {
    const run = substitute(structuredClone(sc), `$${key}`, v);
    delete run.for;
    run.name = `${sc.name} (${key} ${JSON.stringify(v)})`;
    return run;
  });
}

function substitute(x, name, v) {
  if (x === name) return v;
  if (Array.isArray(x)) return x.map((y) => substitute(y, name, v));
  if (x && typeof x === "object") {
    for (const k of Object.keys(x)) x[k] = substitute(x[k], name, v);
  }
  return x;
}

/** tokens makes a getToken that returns the scenario's answers in order. */
function tokens(list, log) {
  let i = 0;
  return async () => {
    const t = list[i++];
    log.push(`getToken → ${JSON.stringify(t)}`);
    if (t === undefined) throw new Error("the scenario has no more tokens");
    if (typeof t === "object") throw new Error(t.error);
    return t;
  };
}

/**
 * run plays one scenario against the client module herald (the ESM build
 * or the browser bundle's global) and throws at the first step that does
 * not hold.
 */
export async function run(sc, herald) {
  const { Client } = herald;
  const clock = new VirtualClock();
  const wire = []; // what the client did on the wire: {dial}, {frame}, {closed}
  const events = []; // what it reported
  const trace = [];
  let ws = null; // the current socket
  const server = { ids: {} };

  class FakeWebSocket {
    readyState = 0;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    constructor(url, protocols) {
      ws = this;
      this.url = url;
      this.protocols = protocols;
      wire.push({ dial: { url, protocols } });
    }
    send(m) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      for (const line of m.split("\n")) wire.push({ frame: JSON.parse(line), message: m });
    }
    close(code, reason) {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      wire.push({ closed: { code: code ?? 1005, reason: reason || "" } });
    }
    terminate() {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      wire.push({ closed: { code: 1006, reason: "" } });
    }
  }

  const o = sc.options || {};
  const opts = {
    websocket: FakeWebSocket,
    clock,
    random: seeded(1),
    debug: (l) => trace.push(l),
    ...o,
  };
  if (o.getToken) opts.getToken = tokens(o.getToken, trace);
  const c = new Client("http://herald.test", opts);
  record(c, undefined, events, herald);
  const subs = {};
  for (const s of sc.subscriptions || []) {
    const so = { ...s };
    delete so.channel;
    if (s.getToken) so.getToken = tokens(s.getToken, trace);
    subs[s.channel] = c.newSubscription(s.channel, so);
    record(subs[s.channel], s.channel, events, herald);
  }

  const fail = (i, step, msg) => {
    throw new Error(
      `scenario ${sc.name}, step ${i + 1} ${JSON.stringify(step)}: ${msg}\n` +
        `wire left: ${JSON.stringify(wire.map(({ message, ...w }) => w))}\nevents left: ${JSON.stringify(events)}\n` +
        `client log:\n  ${trace.join("\n  ")}`,
    );
  };

  // Windows count from the last step that acted on the client, or saw it
  // close the socket: that is what armed the timer being waited for.
  let acted = 0;
  /** waitFor advances virtual time until pick() finds something, within [lo, hi] ms of the last action. */
  const waitFor = async (i, step, pick, within = [0, 0]) => {
    const start = acted;
    await settle();
    for (;;) {
      const got = pick();
      if (got !== undefined) {
        const dt = clock.t - start;
        if (dt < within[0]) fail(i, step, `came after ${dt}ms, earlier than ${within[0]}ms`);
        return got;
      }
      const t = clock.next();
      if (!t || t.at - start > within[1]) fail(i, step, `did not happen within ${within[1]}ms`);
      clock.t = t.at;
      clock.timers.delete(t.id);
      t.fn();
      await settle();
    }
  };

  const steps = sc.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    await settle();
    if (step.call || step.accept || step.send !== undefined || step.close || step.drop) acted = clock.t;
    if (step.call) {
      const sub = step.channel && subs[step.channel];
      if (step.call === "connect") c.connect();
      else if (step.call === "disconnect") c.disconnect();
      else if (step.call === "subscribe") sub.subscribe();
      else if (step.call === "unsubscribe") sub.unsubscribe();
      else fail(i, step, "unknown call");
    } else if (step.dial !== undefined) {
      const d = await waitFor(i, step, () => (wire[0]?.dial ? wire.shift() : undefined), step.dial.within);
      if (d.dial.protocols !== "herald.json") fail(i, step, `offered ${JSON.stringify(d.dial.protocols)}, not herald.json`);
    } else if (step.accept) {
      ws.readyState = 1;
      ws.onopen?.({});
    } else if (step.send !== undefined) {
      const frames = Array.isArray(step.send) ? step.send : [step.send];
      const text = frames.map((f) => (typeof f === "string" ? f : JSON.stringify(bind(f, server.ids)))).join("\n");
      ws.onmessage?.({ data: text });
    } else if (step.close) {
      ws.readyState = 3;
      ws.onclose?.({ code: step.close.code ?? 1005, reason: step.close.reason || "" });
    } else if (step.drop) {
      ws.readyState = 3;
      ws.onclose?.({ code: 1006, reason: "" });
    } else if (step.expect) {
      const got = await waitFor(i, step, () => (wire[0]?.frame ? wire.shift() : undefined), step.within);
      const why = match(step.expect, got.frame, server.ids, "");
      if (why) fail(i, step, `the client sent ${JSON.stringify(got.frame)}: ${why}`);
      if (step.together && got.message.split("\n").length < 2) fail(i, step, "it came alone, not in one message with others");
    } else if (step.closed) {
      const got = await waitFor(i, step, () => (wire[0]?.closed ? wire.shift() : undefined), step.closed.within);
      if (step.closed.code !== undefined && got.closed.code !== step.closed.code)
        fail(i, step, `closed with ${got.closed.code}, not ${step.closed.code}`);
      acted = clock.t; // the client's own close arms its backoff
    } else if (step.event) {
      const got = await waitFor(i, step, () => events.shift(), step.within);
      const why = match(step.event, got, server.ids, "");
      if (why) fail(i, step, `the client reported ${JSON.stringify(got)}: ${why}`);
    } else if (step.advance !== undefined) {
      const end = clock.t + step.advance;
      await settle();
      for (let t = clock.next(); t && t.at <= end; t = clock.next()) {
        clock.t = t.at;
        clock.timers.delete(t.id);
        t.fn();
        await settle();
      }
      clock.t = end;
    } else if (step.quiet) {
      await settle();
      if (wire.length || events.length) fail(i, step, "the client did more than the scenario expects");
    } else {
      fail(i, step, "unknown step");
    }
  }
  await settle();
  if (wire.length || events.length) fail(steps.length - 1, steps.at(-1), "the client did more than the scenario expects");
  c.disconnect();
}

/** record turns the client's events into the scenario's plain form. */
function record(target, channel, events, herald) {
  const kinds = ["connecting", "connected", "disconnected", "subscribing", "subscribed", "unsubscribed", "publication", "join", "leave"];
  for (const k of kinds) {
    // A channel's publications without a subscription go to the client.
    target.on(k, (e) => events.push({ type: k, ...(channel ? { channel } : {}), ...flat(k, e) }));
  }
  if (!channel) target.on("error", ({ error }) => events.push({ type: "error", ...errorFields(error, herald) }));
}

function flat(kind, e) {
  if (kind === "connected") return { client: e.client, user: e.user, ping: e.ping };
  if (kind === "subscribed") {
    const { channel, ...rest } = e;
    return rest;
  }
  if (kind === "publication") {
    const { channel, ...rest } = e;
    return rest;
  }
  return { ...e };
}

function errorFields(e, { GapError, HeraldError, RefreshError, TokenError }) {
  if (e instanceof GapError) return { kind: "gap", channel: e.channel, expected: e.expected, got: e.got };
  if (e instanceof TokenError) return { kind: "token", ...(e.channel ? { channel: e.channel } : {}) };
  if (e instanceof RefreshError)
    return { kind: "refresh", code: e.error.code, retrying: e.retrying, ...(e.channel ? { channel: e.channel } : {}) };
  if (e instanceof HeraldError) return { kind: e.channel ? "subscribe" : "connect", code: e.code, ...(e.channel ? { channel: e.channel } : {}) };
  return { kind: "other", message: String(e) };
}

/** bind replaces "$id:NAME" in a server frame by the id the client used. */
function bind(x, ids) {
  if (typeof x === "string" && x.startsWith("$id:")) {
    if (!(x in ids)) throw new Error(`${x} was not bound by an earlier expect`);
    return ids[x];
  }
  if (Array.isArray(x)) return x.map((y) => bind(y, ids));
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, bind(v, ids)]));
  return x;
}

/**
 * match checks got against a pattern: objects match when every key of the
 * pattern matches (others may be there), null means the key is absent,
 * "$any" is any value, and "$id:NAME" binds the id (or checks it when bound).
 */
export function match(want, got, ids, path) {
  if (want === "$any") return got === undefined ? `${path || "value"} is missing` : "";
  if (typeof want === "string" && want.startsWith("$id:")) {
    if (typeof got !== "number" || got <= 0) return `${path} is not an id`;
    if (want in ids && ids[want] !== got) return `${path} is ${got}, not ${want}=${ids[want]}`;
    ids[want] = got;
    return "";
  }
  if (want === null) return got === undefined ? "" : `${path} should be absent`;
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return `${path} is not an array of ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const w = match(want[i], got[i], ids, `${path}[${i}]`);
      if (w) return w;
    }
    return "";
  }
  if (want && typeof want === "object") {
    if (!got || typeof got !== "object") return `${path || "value"} is not an object`;
    for (const [k, v] of Object.entries(want)) {
      const w = match(v, got[k], ids, path ? `${path}.${k}` : k);
      if (w) return w;
    }
    return "";
  }
  return want === got ? "" : `${path || "value"} is ${JSON.stringify(got)}, not ${JSON.stringify(want)}`;
}
