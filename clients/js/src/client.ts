import { backoff, refreshDelay, retryAfterMs } from "./backoff.js";
import { decodeFrame, pub, type ServerMessage, type WirePub } from "./codec.js";
import { disconnects, ErrorCode } from "./codes.js";
import { clientEnding, Conn, lost, type Ending, type ReplyHandler } from "./conn.js";
import { Emitter } from "./emitter.js";
import { ClientCode, clientReasons, HeraldError, replyError, TokenError } from "./errors.js";
import { renew } from "./refresh.js";
import { Subscription } from "./subscription.js";
import type {
  CallOptions,
  ClientEvents,
  ClientInfo,
  ClientOptions,
  ClientState,
  Clock,
  ConnectedEvent,
  HistoryOptions,
  HistoryResult,
  PresenceResult,
  PresenceStatsResult,
  Publication,
  PublishOptions,
  PublishResult,
  SubscriptionOptions,
  Transport,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";
import { endpointURL } from "./url.js";
import { timeoutError, wait, type Waiter } from "./wait.js";

/** The transport that last connected, for this tab's session (memory where there is no sessionStorage). */
let remembered: string | null = null;
function recall(): string | null {
  try {
    return sessionStorage.getItem("herald.transport");
  } catch {
    return remembered;
  }
}
function remember(t: string): void {
  remembered = t;
  try {
    sessionStorage.setItem("herald.transport", t);
  } catch {
    // Node, or storage refused: memory only
  }
}

/** The part of a refused upgrade's HTTP response the ws package hands over. */
interface RefusedResponse {
  statusCode: number;
  headers?: Record<string, string | string[] | undefined>;
}

/** This library's version, sent in connect by default. */
export const VERSION = "0.1.0";

const globalClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

type Resolved = Required<
  Pick<ClientOptions, "name" | "version" | "minReconnectDelay" | "maxReconnectDelay" | "pingGrace" | "connectTimeout" | "maxMessageSize">
> &
  ClientOptions;

/**
 * A tab-side implementation of the same API, for `shared: true`: the
 * SharedWorker holds the one real Client, and each tab talks to it
 * through a proxy that behaves as its own client.
 */
export type SharedFactory = (url: string, options: ClientOptions) => Client | null;

/**
 * Client is a connection to Herald that stays up by itself: it reconnects
 * with backoff, watches the server's pings, restores and recovers its
 * subscriptions, and refreshes expiring tokens, as docs/client-spec.md
 * describes. Every event is delivered from the event loop, one at a time,
 * in the order the state changed.
 */
export class Client extends Emitter<ClientEvents> {
  /**
   * Set by the shared mode's module (src/shared/) to take over
   * construction when `shared` is asked for; it returns null where it
   * cannot work (no SharedWorker), and the client falls back to a
   * connection of its own.
   */
  static sharedFactory?: SharedFactory;

  state: ClientState = "disconnected";
  /** @internal */ readonly o!: Resolved;
  /** @internal */ readonly clock!: Clock;
  /** @internal */ readonly random!: () => number;
  /** @internal */ conn: Conn | null = null;
  /** @internal */ log: ((line: string) => void) | null = null;
  /** @internal */ url!: string;
  private WS!: WebSocketConstructor;
  private running = false;
  /** How the last connection ended, told to the server at the next connect (its timeline shows it). */
  private lastEnd?: { code: number; reason: string };
  /** Bumped by disconnect(), so that a getToken that returns afterwards does nothing. */
  private loop = 0;
  private attempt = 0;
  private retryTimer: unknown;
  /** The wait in ms the server asked for with the last refused upgrade (503 Retry-After); 0: none. */
  private retryAfter = 0;
  private offline = false;
  private waitingOnline = false;
  /** An attempt is waiting for getToken. */
  private dialing = false;
  private lastConnected?: ConnectedEvent;
  private readyWaiters: Waiter<ConnectedEvent>[] = [];
  private waiting: { send: () => void; fail: (e: unknown) => void }[] = [];
  private subs = new Map<string, Subscription>();
  private nextId = 0;
  private events: (() => void)[] = [];
  /** Why the client last stopped, for ready() on a stopped client. */
  private stopped?: HeraldError;
  /** The transports available of o.transports, and which the next attempt uses. */
  private tlist!: Transport[];
  private tx = 0;
  /**
   * One round of attempts tries every transport in turn, without a
   * backoff between them, from the one that connected last (as the Go
   * client does): a WebSocket refused while SSE opens at once is a
   * blocked Upgrade, while a round that fails whole is a server that is
   * down, after which the next round starts from the same transport
   * again rather than from wherever the rotation had got to.
   */
  private roundStart = 0;
  private roundLeft = 0;

  /** Opens the HTTP fallback transports; set by @heraldrt/client/fallback. */
  static streams?: (url: string, t: Transport) => WebSocketLike;

  constructor(url: string, options: ClientOptions = {}) {
    super();
    if (options.shared && Client.sharedFactory) {
      const shared = Client.sharedFactory(url, options);
      if (shared) return shared;
    }
    this.o = {
      name: "herald-js",
      version: VERSION,
      minReconnectDelay: 200,
      maxReconnectDelay: 20000,
      pingGrace: 10000,
      connectTimeout: 10000,
      maxMessageSize: 65536,
      ...options,
    };
    this.o.maxReconnectDelay = Math.max(this.o.maxReconnectDelay, this.o.minReconnectDelay);
    this.clock = options.clock || globalClock;
    this.random = options.random || Math.random;
    this.url = endpointURL(url);
    this.WS = (options.websocket || (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketConstructor;
    const g = globalThis as { EventSource?: unknown; TextDecoderStream?: unknown };
    const st = !!Client.streams;
    const has = { websocket: !!this.WS, sse: st && !!g.EventSource, http_stream: st && !!g.TextDecoderStream };
    this.tlist = (options.transports || ["websocket", "sse", "http_stream"]).filter((t) => has[t]);
    this.tx = this.roundStart = Math.max(0, this.tlist.indexOf(recall() as Transport));
    this.roundLeft = this.tlist.length - 1;
    if (!this.WS) throw new Error("herald: no WebSocket here: pass one as the websocket option (Node 20: the ws package)");
    const d = options.debug;
    if (d) {
      const out = typeof d === "function" ? d : (l: string) => console.debug(l);
      this.log = (l) => out(`${new Date(this.clock.now()).toISOString()} herald ${l}`);
    }
  }

  /**
   * connect starts the connection loop (or joins the one running). It does
   * not wait: ready() does. The client then reconnects by itself until
   * disconnect() or a code that forbids reconnecting.
   */
  connect(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.listenNetwork(true);
    this.setState("connecting", { code: ClientCode.ConnectCalled, reason: clientReasons[0] });
    this.dial();
  }

  /**
   * disconnect closes the connection (WebSocket close 1000) and stops
   * reconnecting: state Disconnected. Calls waiting for the connection or
   * a reply fail; subscriptions stay wanted and come back on the next
   * connect(), so call unsubscribe() for those that should not.
   */
  disconnect(): void {
    if (!this.running && this.state === "disconnected") return;
    this.running = false;
    this.loop++;
    this.dialing = false;
    this.clock.clearTimeout(this.retryTimer);
    this.listenNetwork(false);
    const why = new HeraldError(ClientCode.ClientClosed, clientReasons[ClientCode.ClientClosed]);
    const cn = this.conn;
    this.conn = null;
    cn?.end(why, 1000);
    this.stop({ code: ClientCode.ClientClosed, reason: clientReasons[ClientCode.ClientClosed], reconnect: false }, why);
  }

  /**
   * ready resolves once Connected (at once if it is), and rejects when the
   * client stops (a terminal code, disconnect()) or after timeoutMs. On a
   * stopped client it rejects at once with why it stopped; before the
   * first connect() it waits for it.
   */
  ready(timeoutMs?: number): Promise<ConnectedEvent> {
    if (this.state === "connected" && this.lastConnected) return Promise.resolve(this.lastConnected);
    if (!this.running && this.stopped) return Promise.reject(this.stopped);
    return wait(this.readyWaiters, this.clock, timeoutMs);
  }

  /** newSubscription makes the client's one subscription to channel; it throws if there is one already. */
  newSubscription(channel: string, options: SubscriptionOptions = {}): Subscription {
    if (this.subs.has(channel)) throw new Error(`herald: the client already has a subscription to "${channel}"`);
    const s = new Subscription(this, channel, options);
    this.subs.set(channel, s);
    return s;
  }

  getSubscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  /** removeSubscription unsubscribes and frees the channel for a new subscription. */
  removeSubscription(sub: Subscription): void {
    sub.unsubscribe();
    if (this.subs.get(sub.channel) === sub) this.subs.delete(sub.channel);
  }

  subscriptions(): Subscription[] {
    return [...this.subs.values()];
  }

  publish(channel: string, data: unknown, opts: PublishOptions = {}): Promise<PublishResult> {
    const cmd: Record<string, unknown> = { channel, data };
    if (opts.ephemeral) cmd.ephemeral = true;
    if (opts.echo === false) cmd.echo = false;
    return this.call({ publish: cmd }, (r) => {
      const p = (r.publish || {}) as PublishResult;
      return p.offset ? { offset: p.offset, epoch: p.epoch } : {};
    }, opts, data);
  }

  history(channel: string, opts: HistoryOptions = {}): Promise<HistoryResult> {
    const cmd: Record<string, unknown> = { channel };
    if (opts.since) cmd.since = opts.since;
    if (opts.limit) cmd.limit = opts.limit;
    if (opts.reverse) cmd.reverse = true;
    return this.call({ history: cmd }, (r) => {
      const h = (r.history || {}) as { publications?: WirePub[]; offset?: number; epoch?: string };
      const epoch = h.epoch || "";
      return {
        publications: (h.publications || []).map((p) => pub(channel, p, epoch)),
        offset: h.offset || 0,
        epoch,
      };
    }, opts);
  }

  presence(channel: string, opts: CallOptions = {}): Promise<PresenceResult> {
    return this.call({ presence: { channel } }, (r) => ({
      clients: ((r.presence as { presence?: Record<string, ClientInfo> })?.presence || {}),
    }), opts);
  }

  presenceStats(channel: string, opts: CallOptions = {}): Promise<PresenceStatsResult> {
    return this.call({ presence_stats: { channel } }, (r) => {
      const s = (r.presence_stats || {}) as { num_clients?: number; num_users?: number };
      return { numClients: s.num_clients || 0, numUsers: s.num_users || 0 };
    }, opts);
  }

  rpc(method: string, data?: unknown, opts: CallOptions = {}): Promise<unknown> {
    const cmd: Record<string, unknown> = { method };
    if (data !== undefined) cmd.data = data;
    return this.call({ rpc: cmd }, (r) => (r.rpc as { data?: unknown })?.data, opts, data);
  }

  /**
   * call sends one command once connected and resolves with its parsed
   * reply. It waits for the connection while there is none (spec
   * "Calls"), is sent at most once, and fails with code 1 when its
   * connection ends before the reply.
   * @internal
   */
  call<T>(cmd: object, parse: (r: ServerMessage) => T, opts: CallOptions = {}, data?: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (data !== undefined && !isJSON(data)) {
        reject(new HeraldError(ErrorCode.BadRequest, "data is not JSON: nothing was sent"));
        return;
      }
      let done = false;
      let timer: unknown;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        this.clock.clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        this.waiting = this.waiting.filter((w) => w !== waiter);
        f();
      };
      const onAbort = () => finish(() => reject(opts.signal!.reason));
      const waiter = {
        send: () =>
          this.command(cmd, (r, err) =>
            finish(() => (err ? reject(err) : r!.error ? reject(replyError(r!.error)) : resolve(parse(r!)))),
          ),
        fail: (e: unknown) => finish(() => reject(e)),
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener("abort", onAbort);
      if (opts.timeout !== undefined) timer = this.clock.setTimeout(() => finish(() => reject(timeoutError())), opts.timeout);
      if (this.conn?.connected) waiter.send();
      else this.waiting.push(waiter);
    });
  }

  /** command sends cmd on the current connection with a new id. @internal */
  command(cmd: object, handler?: ReplyHandler): void {
    const cn = this.conn;
    if (!cn) {
      handler?.(null, new HeraldError(ClientCode.TransportClosed, "not connected"));
      return;
    }
    // Ids count from 1 and wrap before 2^32, never 0.
    this.nextId = (this.nextId % 0xffffffff) + 1;
    cn.send(cmd, this.nextId, handler);
  }

  /**
   * emit queues an event: events run from a microtask, one at a time, in
   * the order they were queued, after the client's state is complete, so
   * that a handler that calls back into the client sees a consistent one.
   * @internal
   */
  emit<E extends Record<string, unknown>, K extends keyof E>(target: Emitter<E>, event: K, e: E[K]): void {
    this.events.push(() => target.fire(event, e));
    if (this.events.length === 1) queueMicrotask(() => this.drain());
  }

  private drain(): void {
    // Handlers may queue more; they run in this same drain.
    for (let i = 0; i < this.events.length; i++) this.events[i]();
    this.events = [];
  }

  /** @internal */
  emitError(error: Error): void {
    this.log?.("error " + error.message);
    this.emit(this, "error", { error });
    // Errors about a subscription go to it too.
    const s = this.subs.get((error as { channel?: string }).channel || "");
    if (s) this.emit(s, "error", { error });
  }

  private setState(to: ClientState, e: { code: number; reason: string }): void {
    const from = this.state;
    this.state = to;
    this.log?.(`state ${from} → ${to} (${e.code} ${e.reason})`);
    this.emit(this, "state", { from, to });
    if (to !== "connected") this.emit(this, to, e);
  }

  /** dial makes one connection attempt: the token, the WebSocket, connect. */
  private async dial(): Promise<void> {
    const loop = this.loop;
    let token = this.o.token;
    if (this.o.getToken) {
      this.dialing = true;
      try {
        token = await this.o.getToken();
      } catch (err) {
        if (loop !== this.loop) return;
        this.emitError(new TokenError(err));
        return this.retry();
      } finally {
        if (loop === this.loop) this.dialing = false;
      }
      if (loop !== this.loop) return;
      if (this.offline) {
        this.waitingOnline = true; // the browser went offline meanwhile
        return;
      }
    }
    const t = this.tlist[this.tx % this.tlist.length];
    this.log?.(`dial ${this.url} (${t})`);
    let ws;
    try {
      ws = t === "websocket" ? new this.WS(this.url, "herald.json") : Client.streams!(this.url, t);
    } catch (err) {
      this.emitError(new HeraldError(ClientCode.TransportClosed, `dial ${this.url}: ${(err as Error).message}`));
      return this.retry();
    }
    const cn: Conn = new Conn(t, ws, this.clock, this.o.maxMessageSize, this.log, (err) =>
      this.lose(cn, clientEnding(ClientCode.TransportClosed, "write: " + (err as Error)?.message)),
    );
    this.conn = cn;
    cn.connectTimer = cn.after(this.o.connectTimeout, () => this.lose(cn, clientEnding(ClientCode.ConnectTimeout), undefined, true));
    ws.onopen = () => this.sendConnect(cn, token);
    ws.onmessage = (ev) => this.onFrame(cn, ev.data);
    ws.onclose = (ev) => this.onClose(cn, ev.code, ev.reason);
    ws.onerror = () => {}; // close follows, with the code that tells why
    this.watchRefusal(ws);
  }

  /**
   * watchRefusal reads the Retry-After of an upgrade refused 503 (the
   * server's admission control), where the WebSocket lets it be seen: the
   * ws package in Node does ("unexpected-response"); a browser's WebSocket
   * shows only close 1006, and the usual backoff applies.
   */
  private watchRefusal(ws: WebSocketLike): void {
    const w = ws as unknown as { on?: (ev: string, f: (req: unknown, res: RefusedResponse) => void) => void; terminate?: () => void };
    if (typeof w.on !== "function") return;
    w.on("unexpected-response", (_req, res) => {
      this.retryAfter = retryAfterMs(res.statusCode, res.headers?.["retry-after"]);
      this.log?.(`upgrade refused: HTTP ${res.statusCode}` + (this.retryAfter ? `, retry after ${this.retryAfter}ms` : ""));
      // With a listener the ws package leaves the handshake to us: end it,
      // and the close (1006) reconnects as any lost attempt does.
      if (w.terminate) w.terminate();
      else ws.close();
    });
  }

  private sendConnect(cn: Conn, token: string | undefined): void {
    const req: Record<string, unknown> = { name: this.o.name, version: this.o.version };
    if (token) req.token = token;
    if (this.o.data !== undefined) req.data = this.o.data;
    if (this.lastEnd) req.last_disconnect = this.lastEnd;
    this.command({ connect: req }, (r) => r && this.onConnectReply(cn, r));
  }

  private onConnectReply(cn: Conn, r: ServerMessage): void {
    if (r.error) {
      const e = replyError(r.error);
      this.emitError(new HeraldError(e.code, "connect: " + (r.error.message || ""), { temporary: e.temporary }));
      if (e.code === ErrorCode.TokenExpired && !cn.retried118) {
        // The connection stays open after 118: connect again on it with a
        // new token, once. Without getToken there is no other token: stop.
        cn.retried118 = true;
        const getToken = this.o.getToken;
        if (!getToken) return this.lose(cn, { code: e.code, reason: r.error.message || "", reconnect: false }, 1000, false, true);
        getToken().then(
          (t) => cn === this.conn && !cn.ended && this.sendConnect(cn, t),
          (err) => {
            if (cn !== this.conn || cn.ended) return;
            this.emitError(new TokenError(err));
            this.lose(cn, clientEnding(ClientCode.TransportClosed), 1000, false, true);
          },
        );
        return;
      }
      return this.lose(cn, clientEnding(ClientCode.TransportClosed), 1000, false, true);
    }
    const res = r.connect as { client?: string; user?: string; version?: string; ping?: number; expires?: boolean; ttl?: number };
    if (!res) return this.badMessage(cn, "a reply without a connect result");
    cn.connected = true;
    cn.last = this.clock.now();
    cn.readTimeout = res.ping ? res.ping * 1000 + this.o.pingGrace : 0;
    // The connect timeout ends with the reply; from here on the ping watch counts.
    cn.cancel(cn.connectTimer);
    this.attempt = 0;
    const ev: ConnectedEvent = {
      client: res.client || "",
      user: res.user || "",
      version: res.version || "",
      ping: res.ping || 0,
      transport: cn.t,
    };
    remember(cn.t);
    this.tx = this.roundStart = this.tx % this.tlist.length;
    this.roundLeft = this.tlist.length - 1;
    this.lastConnected = ev;
    this.setState("connected", { code: 0, reason: "connect reply" });
    this.emit(this, "connected", ev);
    for (const w of this.readyWaiters.splice(0)) w.resolve(ev);
    this.watchPings(cn);
    // Only credentials made by the connect hook (no token at all) can be
    // refreshed without getToken: an empty refresh asks its refresh hook.
    if (res.expires && (this.o.getToken || !this.o.token)) this.scheduleRefresh(cn, res.ttl || 0);
    for (const s of this.subs.values()) if (s.wanted) s.send(cn);
    for (const w of this.waiting.splice(0)) w.send();
  }

  /** watchPings closes a connection that has been silent for ping + pingGrace. */
  private watchPings(cn: Conn): void {
    if (!cn.readTimeout) return;
    const check = () => {
      const left = cn.last + cn.readTimeout - this.clock.now();
      if (left > 0) cn.after(left, check);
      else this.lose(cn, clientEnding(ClientCode.NoPing), undefined, true);
    };
    cn.after(cn.readTimeout, check);
  }

  private onFrame(cn: Conn, data: unknown): void {
    if (cn.ended) return;
    cn.last = this.clock.now();
    if (typeof data !== "string") return this.badMessage(cn, "a binary message");
    this.log?.("← " + data);
    let msgs: ServerMessage[];
    try {
      msgs = decodeFrame(data);
    } catch (err) {
      return this.badMessage(cn, (err as Error).message);
    }
    for (const m of msgs) {
      if (cn.ended) return;
      this.handle(cn, m);
    }
  }

  private handle(cn: Conn, m: ServerMessage): void {
    if (m.id) {
      cn.take(m.id)?.(m);
      return;
    }
    if (m.ping) {
      cn.sendNow('{"pong":{}}');
    } else if (m.disconnect) {
      // The close frame follows with the same code.
      const d = m.disconnect;
      cn.disconnect = { code: d.code, reason: d.reason, reconnect: d.reconnect };
      // A draining server says when to come back: honoured as Retry-After is, capped.
      this.retryAfter = Math.min(d.reconnect_in || 0, this.o.maxReconnectDelay);
    } else if (m.error) {
      // An error without an id answers a command that had none: only pong.
      this.emitError(replyError(m.error));
    } else if (m.channel) {
      this.push(m.channel, m);
    }
    // Anything else is newer than this client: ignoring it is the protocol's rule.
  }

  private push(channel: string, m: ServerMessage): void {
    const s = this.subs.get(channel);
    if (s) return s.push(m);
    if (m.pub) this.emit(this, "publication", pub(channel, m.pub, ""));
  }

  private badMessage(cn: Conn, what: string): void {
    this.emitError(new HeraldError(ClientCode.BadServerMessage, `the server sent ${what}; reconnecting`));
    this.lose(cn, clientEnding(ClientCode.BadServerMessage), 1002, false, true);
  }

  /** onClose applies the server's disconnect push, else the close code (spec "Reconnecting and backoff"). */
  private onClose(cn: Conn, code: number, reason: string): void {
    let end = cn.disconnect;
    if (!end) {
      if (!code || code === 1005 || code === 1006) end = clientEnding(ClientCode.TransportClosed);
      else {
        const d = disconnects[code];
        end = { code, reason: reason || d?.reason || "", reconnect: d ? d.reconnect : code < 4500 && code !== 1003 };
      }
    }
    this.lose(cn, end);
  }

  /**
   * lose ends cn for the reason given and moves the client on: reconnect
   * with backoff, or stop where the code forbids it.
   */
  private lose(cn: Conn, end: Ending, closeCode?: number, terminate = false, quiet = false): void {
    if (cn.ended) return;
    this.lastEnd = { code: end.code, reason: end.reason };
    cn.end(lost(), closeCode, undefined, terminate);
    if (this.conn !== cn) return;
    this.conn = null;
    let now = false;
    if (!cn.connected) {
      if (this.roundLeft > 0 && !this.retryAfter) {
        // Fall back: the next transport of this round, at once.
        this.roundLeft--;
        this.tx++;
        now = true;
      } else {
        this.tx = this.roundStart;
        this.roundLeft = this.tlist.length - 1;
      }
    }
    if (!cn.connected && !quiet) this.emitError(new HeraldError(end.code, "connect: " + end.reason));
    if (!end.reconnect) {
      this.running = false;
      this.listenNetwork(false);
      return this.stop(end, new HeraldError(end.code, end.reason));
    }
    if (cn.connected) {
      this.setState("connecting", end);
      for (const s of this.subs.values()) s.lost(end);
    }
    this.retry(now);
  }

  /** stop moves to Disconnected after a terminal code or disconnect(). */
  private stop(end: Ending, why: HeraldError): void {
    this.stopped = why;
    this.setState("disconnected", end);
    for (const s of this.subs.values()) s.lost(end);
    for (const w of this.readyWaiters.splice(0)) w.reject(why);
    for (const w of this.waiting.slice()) w.fail(why);
  }

  /** retry dials again after the backoff, or at once (now) for the next transport of a round. */
  private retry(now = false): void {
    if (!this.running) return;
    if (this.offline) {
      this.waitingOnline = true;
      this.log?.("offline: waiting for the network");
      return;
    }
    if (now) {
      this.log?.(`trying ${this.tlist[this.tx % this.tlist.length]} at once`);
      this.retryTimer = this.clock.setTimeout(() => this.dial(), 0);
      return;
    }
    let d = backoff(this.attempt++, this.o.minReconnectDelay, this.o.maxReconnectDelay, this.random);
    if (this.retryAfter > 0) {
      // No sooner than the server said, spread by up to the minimum delay.
      d = Math.max(d, this.retryAfter + Math.floor(this.random() * this.o.minReconnectDelay));
      this.retryAfter = 0;
    }
    this.log?.(`reconnecting in ${d}ms (attempt ${this.attempt})`);
    this.retryTimer = this.clock.setTimeout(() => this.dial(), d);
  }

  private onOffline = (): void => {
    this.offline = true;
    if (!this.running) return;
    this.log?.("the browser went offline");
    if (this.conn) this.lose(this.conn, clientEnding(ClientCode.TransportClosed, "the browser went offline"), 1000, false, true);
    else {
      this.clock.clearTimeout(this.retryTimer);
      this.waitingOnline = true;
    }
  };

  private onOnline = (): void => {
    this.offline = false;
    if (!this.running || !this.waitingOnline) return;
    this.waitingOnline = false;
    this.log?.("the browser is online again");
    // An attempt waiting for getToken goes on by itself.
    if (!this.dialing) this.dial();
  };

  private listenNetwork(on: boolean): void {
    const g = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener };
    if (typeof g.addEventListener !== "function" || typeof (globalThis as { navigator?: unknown }).navigator !== "object") return;
    const f = on ? g.addEventListener : g.removeEventListener!;
    f.call(globalThis, "offline", this.onOffline);
    f.call(globalThis, "online", this.onOnline);
  }

  /** scheduleRefresh refreshes the connection's credentials before they expire in ttl seconds. */
  private scheduleRefresh(cn: Conn, ttl: number): void {
    const expires = this.clock.now() + Math.max(ttl, 1) * 1000;
    renew(this, cn, refreshDelay(Math.max(ttl, 1), this.random), expires, 0, async () => {
      if (!this.o.getToken) return "";
      return this.o.getToken();
    }, (token) => ({ refresh: { token } }), undefined, (res) => {
      const r = res.refresh as { expires?: boolean; ttl?: number } | undefined;
      if (r?.expires) this.scheduleRefresh(cn, r.ttl || 0);
    });
  }
}

function isJSON(v: unknown): boolean {
  try {
    return JSON.stringify(v) !== undefined;
  } catch {
    return false;
  }
}
