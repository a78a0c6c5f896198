/**
 * The SharedWorker of `shared: true` (built to
 * dist/herald-shared-worker.min.js): it holds the one real Client of every
 * tab of the origin that uses the same server URL, and gives each tab
 * (tab.ts) the view of a client of its own.
 *
 * - Server subscriptions are counted across tabs: the first tab that
 *   subscribes to a channel makes it, the last that leaves ends it, and a
 *   publication goes only to the tabs subscribed to its channel.
 * - The connection runs while at least one tab wants it (connect() without
 *   disconnect()). The tab that opened the worker is not special: a tab
 *   that closes says goodbye on pagehide, and one that stops answering the
 *   heartbeat (crashed, frozen) is dropped, with its subscriptions.
 * - Tokens (getToken) are asked of a live tab that has the function, the
 *   next one if it does not answer in time.
 */
import { Client } from "../client.js";
import type { Subscription } from "../subscription.js";
import type { ClientOptions, ConnectedEvent, SubscribedEvent, SubscriptionOptions } from "../types.js";
import { errorToWire, eventToWire, type TabMessage, type WorkerMessage } from "./messages.js";

/** How often tabs are pinged, and how long one may stay silent before it is dropped (ms). */
const HEARTBEAT = 5000;
const SILENT = 3 * HEARTBEAT;
/** How long one tab may take to hand out a token before the next is asked (ms). */
const TOKEN_WAIT = 5000;

const clientEvents = ["connecting", "connected", "disconnected", "error", "state", "publication"] as const;
const subEvents = ["subscribing", "subscribed", "unsubscribed", "publication", "join", "leave", "error", "state"] as const;

interface Tab {
  port: MessagePort;
  seen: number;
  wantsConn: boolean;
  getToken: boolean;
  debug: boolean;
  /** Channels this tab subscribed to, and whether it has a getToken for each. */
  subs: Map<string, boolean>;
}

interface SharedSub {
  sub: Subscription;
  tabs: Set<Tab>;
  last?: SubscribedEvent;
}

const tabs = new Map<MessagePort, Tab>();
const shared = new Map<string, SharedSub>();
let client: Client | null = null;
let connected: ConnectedEvent | undefined;
let nextToken = 0;
const tokenWaiters = new Map<number, (m: Extract<TabMessage, { t: "token" }>) => void>();

function post(tab: Tab, m: WorkerMessage): void {
  tab.port.postMessage(m);
}

/** askToken asks each candidate tab in turn for a token, the connection's or channel's. */
async function askToken(candidates: () => Tab[], ch?: string): Promise<string> {
  for (const tab of candidates()) {
    if (tabs.get(tab.port) !== tab) continue; // dropped meanwhile
    const id = ++nextToken;
    const reply = await new Promise<Extract<TabMessage, { t: "token" }> | null>((resolve) => {
      const timer = setTimeout(() => (tokenWaiters.delete(id), resolve(null)), TOKEN_WAIT);
      tokenWaiters.set(id, (m) => (clearTimeout(timer), tokenWaiters.delete(id), resolve(m)));
      post(tab, { t: "token", id, ch });
    });
    if (!reply) continue; // gone or stuck: the next tab
    if (reply.err) throw new Error(reply.err.message);
    return reply.token || "";
  }
  throw new Error("herald: shared: no tab with getToken answered");
}

function start(m: Extract<TabMessage, { t: "hello" }>): Client {
  const opts: ClientOptions = { ...m.opts };
  if (m.getToken) opts.getToken = () => askToken(() => [...tabs.values()].filter((t) => t.getToken));
  if (m.debug) {
    opts.debug = (line) => {
      for (const t of tabs.values()) if (t.debug) post(t, { t: "log", line: "(shared) " + line });
    };
  }
  const c = new Client(m.url, opts);
  c.on("connected", (e) => (connected = e));
  for (const n of clientEvents) {
    c.on(n, (e: unknown) => {
      const wire = eventToWire(n, e);
      for (const t of tabs.values()) if (t.wantsConn) post(t, { t: "ev", n, e: wire });
    });
  }
  return c;
}

function subscribe(tab: Tab, m: Extract<TabMessage, { t: "sub" }>): void {
  const c = client!;
  let s = shared.get(m.ch);
  if (s?.tabs.has(tab)) return;
  tab.subs.set(m.ch, m.getToken);
  if (s) {
    s.tabs.add(tab);
    if (s.sub.state === "subscribed" && s.last) {
      // Already subscribed for another tab: this one starts from now. It
      // recovered only if it asked for exactly the current position.
      const pos = s.sub.position || { offset: s.last.offset, epoch: s.last.epoch };
      const recovered = !!m.since && m.since.epoch === pos.epoch && m.since.offset === pos.offset;
      post(tab, { t: "sub", ch: m.ch, n: "state", e: { from: "subscribing", to: "subscribed" } });
      post(tab, { t: "sub", ch: m.ch, n: "subscribed", e: { ...s.last, ...pos, wasRecovering: !!m.since, recovered } });
    }
    return;
  }
  const opts: SubscriptionOptions = {};
  if (m.since) opts.since = m.since;
  if (m.token) opts.token = m.token;
  if (m.getToken) {
    opts.getToken = (ch) => askToken(() => [...(shared.get(ch)?.tabs || [])].filter((t) => t.subs.get(ch)), ch);
  }
  const sub = c.getSubscription(m.ch) || c.newSubscription(m.ch, opts);
  const entry: SharedSub = { sub, tabs: new Set([tab]) };
  shared.set(m.ch, entry);
  for (const n of subEvents) {
    sub.on(n, (e: unknown) => {
      if (shared.get(m.ch) !== entry) return;
      if (n === "subscribed") entry.last = e as SubscribedEvent;
      const wire = eventToWire(n, e);
      for (const t of entry.tabs) post(t, { t: "sub", ch: m.ch, n, e: wire });
      if (n === "unsubscribed" && sub.state === "unsubscribed") {
        // Ended for good (refused, or unsubscribed by the server): the
        // tabs were told; the next subscribe makes a new one.
        shared.delete(m.ch);
        c.removeSubscription(sub);
        for (const t of entry.tabs) t.subs.delete(m.ch);
      }
    });
  }
  sub.subscribe();
}

function unsubscribe(tab: Tab, ch: string): void {
  tab.subs.delete(ch);
  const s = shared.get(ch);
  if (!s || !s.tabs.delete(tab) || s.tabs.size > 0) return;
  shared.delete(ch);
  client!.removeSubscription(s.sub);
}

/** release takes back what a tab held: its subscriptions and its wish to be connected. */
function release(tab: Tab): void {
  for (const ch of [...tab.subs.keys()]) unsubscribe(tab, ch);
  tab.wantsConn = false;
  if (client && ![...tabs.values()].some((t) => t.wantsConn)) client.disconnect();
}

function drop(tab: Tab): void {
  tabs.delete(tab.port);
  release(tab);
}

/** connect brings a tab that called connect() up to the shared client's state. */
function connect(tab: Tab): void {
  const c = client!;
  tab.wantsConn = true;
  if (c.state === "disconnected") return c.connect(); // its events reach this tab
  if (c.state === "connected" && connected) {
    post(tab, { t: "ev", n: "state", e: { from: "connecting", to: "connected" } });
    post(tab, { t: "ev", n: "connected", e: connected });
  }
}

async function call(tab: Tab, m: Extract<TabMessage, { t: "call" }>): Promise<void> {
  const c = client!;
  try {
    const f = c[m.m] as (...a: unknown[]) => Promise<unknown>;
    post(tab, { t: "reply", id: m.id, v: await f.apply(c, m.a) });
  } catch (err) {
    post(tab, { t: "reply", id: m.id, err: errorToWire(err) });
  }
}

function onMessage(port: MessagePort, m: TabMessage): void {
  let tab = tabs.get(port);
  if (!tab) {
    if (m.t !== "hello") {
      // Dropped while frozen, or the worker restarted: the tab registers again.
      if (m.t !== "bye") port.postMessage({ t: "who" } satisfies WorkerMessage);
      return;
    }
    tab = { port, seen: Date.now(), wantsConn: false, getToken: m.getToken, debug: m.debug, subs: new Map() };
    tabs.set(port, tab);
    client ||= start(m);
    return;
  }
  tab.seen = Date.now();
  switch (m.t) {
    case "connect":
      return connect(tab);
    case "disconnect":
      return release(tab);
    case "sub":
      return subscribe(tab, m);
    case "unsub":
      return unsubscribe(tab, m.ch);
    case "call":
      void call(tab, m);
      return;
    case "token":
      tokenWaiters.get(m.id)?.(m);
      return;
    case "bye":
      return drop(tab);
  }
}

setInterval(() => {
  const now = Date.now();
  for (const tab of [...tabs.values()]) {
    if (now - tab.seen > SILENT) drop(tab);
    else post(tab, { t: "ping" });
  }
}, HEARTBEAT);

(self as unknown as { onconnect: (e: MessageEvent) => void }).onconnect = (e) => {
  const port = e.ports[0];
  port.onmessage = (ev) => onMessage(port, ev.data as TabMessage);
  port.start();
};
