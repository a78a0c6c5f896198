/**
 * The tab side of `shared: true`: SharedClient and SharedSubscription have
 * the public API of Client and Subscription, and talk to the SharedWorker
 * (worker.ts) that holds the one real connection. Importing this module
 * installs Client.sharedFactory, so that `new Client(url, {shared: true})`
 * returns a SharedClient where SharedWorker exists and an ordinary Client
 * (a connection per tab) where it does not, e.g. Chrome on Android.
 *
 * Every tab sees events as if it had a client of its own: its own states,
 * its own subscriptions and only their publications. What cannot cross to
 * the worker stays in the tab: getToken functions (the worker asks a tab),
 * debug functions (the worker sends its log lines here), AbortSignals.
 * The websocket, clock and random options are not used in shared mode.
 */
import { Client } from "../client.js";
import { Emitter } from "../emitter.js";
import { ClientCode, clientReasons, HeraldError } from "../errors.js";
import { wait, type Waiter } from "../wait.js";
import type {
  CallOptions,
  ClientEvents,
  ClientOptions,
  ClientState,
  Clock,
  ConnectedEvent,
  HistoryOptions,
  HistoryResult,
  Position,
  PresenceResult,
  PresenceStatsResult,
  Publication,
  PublishOptions,
  PublishResult,
  SubscribedEvent,
  SubscriptionEvents,
  SubscriptionOptions,
  SubscriptionState,
} from "../types.js";
import {
  type CallMethod,
  errorFromWire,
  errorToWire,
  eventFromWire,
  type TabMessage,
  type WireError,
  type WireOptions,
  type WorkerMessage,
} from "./messages.js";

/** The worker script next to the page's copy of herald.min.js, when it was loaded by a script tag. */
const scriptDir =
  typeof document !== "undefined" && document.currentScript instanceof HTMLScriptElement
    ? document.currentScript.src.replace(/[^/]*$/, "")
    : "";

const wireOptions = [
  "token", "data", "name", "version", "minReconnectDelay", "maxReconnectDelay", "pingGrace", "connectTimeout", "maxMessageSize",
] as const satisfies readonly (keyof WireOptions)[];

function reason(code: number): { code: number; reason: string } {
  return { code, reason: clientReasons[code] };
}

/** The tab's own timers, for ready(timeout): the clock option is not used in shared mode. */
const clock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Mirror holds a state driven both by the tab's own calls (which change it
 * at once, as in a Client) and by the worker's events: an event that only
 * repeats the state the tab already showed is not fired twice.
 */
class Mirror<E extends Record<string, unknown>, S extends string> extends Emitter<E> {
  private skip: string | null = null;
  constructor(public state: S) {
    super();
  }

  /** move changes the state here, firing state and, with e, the state's own event. */
  move(to: S, e?: unknown): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.fire("state", { from, to } as E["state"]);
    if (e) this.fire(to, e as E[S]);
  }

  /** fromWorker applies one event of the worker's real client or subscription. */
  fromWorker(n: string, e: unknown): void {
    if (n === "state") {
      const to = (e as { to: S }).to;
      const from = this.state;
      if (to === from) {
        this.skip = to;
        return;
      }
      this.skip = null;
      this.state = to;
      this.fire("state", { from, to } as E["state"]); // from as this tab saw it
      return;
    } else if (n === this.skip) {
      this.skip = null;
      return;
    }
    this.fire(n, e as E[string]);
  }
}

export class SharedSubscription extends Mirror<SubscriptionEvents, SubscriptionState> {
  private wanted = false;
  private pos?: Position;
  private last?: SubscribedEvent;
  private waiters: Waiter<SubscribedEvent>[] = [];

  /** @internal */
  constructor(
    private c: SharedClient,
    readonly channel: string,
    /** @internal */ readonly opts: SubscriptionOptions,
  ) {
    super("unsubscribed");
    this.pos = opts.since && { ...opts.since };
  }

  get position(): Position | undefined {
    return this.pos && { ...this.pos };
  }

  subscribe(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.move("subscribing", reason(ClientCode.SubscribeCalled));
    this.c.register(this);
  }

  unsubscribe(): void {
    if (!this.wanted && this.state === "unsubscribed") return;
    this.c.unregister(this);
    this.end(reason(ClientCode.UnsubscribeCalled));
  }

  ready(timeoutMs?: number): Promise<SubscribedEvent> {
    if (this.state === "subscribed" && this.last) return Promise.resolve(this.last);
    return wait(this.waiters, clock, timeoutMs);
  }

  publish(data: unknown, opts?: PublishOptions): Promise<PublishResult> {
    return this.c.publish(this.channel, data, opts);
  }
  history(opts?: HistoryOptions): Promise<HistoryResult> {
    return this.c.history(this.channel, opts);
  }
  presence(opts?: CallOptions): Promise<PresenceResult> {
    return this.c.presence(this.channel, opts);
  }
  presenceStats(opts?: CallOptions): Promise<PresenceStatsResult> {
    return this.c.presenceStats(this.channel, opts);
  }

  /** @internal */
  get isWanted(): boolean {
    return this.wanted;
  }

  /** lost: the tab disconnected; like a Client's subscription it stays wanted. @internal */
  lost(): void {
    if (this.state === "subscribed") this.move("subscribing", reason(ClientCode.ClientClosed));
  }

  /** @internal */
  fromWorker(n: string, e: unknown): void {
    if (!this.wanted) return; // unsubscribed here: nothing follows
    if (n === "subscribed") {
      const ev = e as SubscribedEvent;
      this.last = ev;
      // Recovered: the missed publications follow and move the position
      // on; otherwise the tab starts from the stream's position now.
      if (!(ev.wasRecovering && ev.recovered)) this.pos = ev.recoverable ? { offset: ev.offset, epoch: ev.epoch } : undefined;
      super.fromWorker(n, e);
      for (const w of this.waiters.splice(0)) w.resolve(ev);
      return;
    }
    if (n === "publication") {
      const p = e as Publication;
      if (p.offset) {
        // A tab that joined a subscription of other tabs started from its
        // position; a publication the worker had queued before is not new.
        if (this.pos && this.pos.epoch === p.epoch && p.offset <= this.pos.offset) return;
        this.pos = { offset: p.offset, epoch: p.epoch || "" };
      }
    }
    if (n === "unsubscribed") {
      this.end(e as { code: number; reason: string }); // the worker has forgotten it too
      return;
    }
    super.fromWorker(n, e);
  }

  private end(e: { code: number; reason: string }): void {
    this.wanted = false;
    this.pos = undefined;
    this.move("unsubscribed", e);
    const why = new HeraldError(e.code, e.reason, { channel: this.channel });
    for (const w of this.waiters.splice(0)) w.reject(why);
  }
}


export class SharedClient extends Mirror<ClientEvents, ClientState> {
  private port: MessagePort;
  private wantsConn = false;
  private subs = new Map<string, SharedSubscription>();
  private connected?: ConnectedEvent;
  private readyWaiters: Waiter<ConnectedEvent>[] = [];
  private stopped?: HeraldError;
  private calls = new Map<number, Waiter<unknown>>();
  /** Calls made while this tab is disconnected wait for its connect(), as a Client's do. */
  private held: (() => void)[] = [];
  private nextId = 0;
  private log: ((line: string) => void) | null = null;

  /** @internal */
  constructor(
    private url: string,
    private o: ClientOptions,
    workerUrl: string,
  ) {
    super("disconnected");
    const d = o.debug;
    if (d) this.log = typeof d === "function" ? d : (l) => console.debug(l);
    const worker = new SharedWorker(workerUrl, { name: "herald " + url });
    // A worker script that does not load (a wrong workerUrl) would leave
    // the tab connecting forever without a word: say it.
    worker.onerror = () => this.fire("error", { error: new Error(`herald: shared: the worker ${workerUrl} failed to start; check shared.workerUrl`) });
    this.port = worker.port;
    this.port.onmessage = (ev) => this.onMessage(ev.data as WorkerMessage);
    this.port.start();
    this.hello();
    addEventListener("pagehide", () => this.send({ t: "bye" }));
    addEventListener("pageshow", (e) => {
      if ((e as PageTransitionEvent).persisted) this.hello(); // back from the bfcache: the worker let us go
    });
    // Back from being frozen: if the heartbeat dropped this tab, the
    // worker answers with "who" and the tab registers again.
    document.addEventListener("resume", () => this.send({ t: "pong" }));
    this.on("connected", (e) => {
      this.connected = e;
      for (const w of this.readyWaiters.splice(0)) w.resolve(e);
    });
    this.on("disconnected", (e) => {
      // Stopped (a terminal code, or disconnect() here): ready() fails,
      // now and until the next connect(), as a Client's does.
      this.stopped = new HeraldError(e.code, e.reason);
      for (const w of this.readyWaiters.splice(0)) w.reject(this.stopped);
    });
  }

  private send(m: TabMessage): void {
    this.port.postMessage(m);
  }

  /** hello (re)registers this tab with the worker: options, connection, subscriptions. */
  private hello(): void {
    const opts: Record<string, unknown> = {};
    for (const k of wireOptions) if (this.o[k] !== undefined) opts[k] = this.o[k]; // an undefined would override a default
    this.send({ t: "hello", url: this.url, opts, getToken: !!this.o.getToken, debug: !!this.o.debug });
    if (this.wantsConn) this.send({ t: "connect" });
    for (const s of this.subs.values()) if (s.isWanted) this.register(s);
  }

  connect(): void {
    // After a code that stopped the shared client (state disconnected while
    // still wanted), connect() starts it again, as it would a Client.
    if (this.wantsConn && this.state !== "disconnected") return;
    this.wantsConn = true;
    this.stopped = undefined;
    this.move("connecting", reason(ClientCode.ConnectCalled));
    this.send({ t: "connect" });
    for (const s of this.subs.values()) if (s.isWanted) this.register(s);
    for (const f of this.held.splice(0)) f();
  }

  disconnect(): void {
    if (!this.wantsConn) return;
    this.wantsConn = false;
    this.send({ t: "disconnect" });
    const why = new HeraldError(ClientCode.ClientClosed, clientReasons[ClientCode.ClientClosed]);
    for (const w of this.readyWaiters.splice(0)) w.reject(why);
    for (const c of this.calls.values()) c.reject(why);
    this.calls.clear();
    for (const s of this.subs.values()) s.lost();
    this.move("disconnected", reason(ClientCode.ClientClosed));
  }

  ready(timeoutMs?: number): Promise<ConnectedEvent> {
    if (this.state === "connected" && this.connected) return Promise.resolve(this.connected);
    if (this.state === "disconnected" && this.stopped) return Promise.reject(this.stopped);
    return wait(this.readyWaiters, clock, timeoutMs);
  }

  newSubscription(channel: string, options: SubscriptionOptions = {}): SharedSubscription {
    if (this.subs.has(channel)) throw new Error(`herald: the client already has a subscription to "${channel}"`);
    const s = new SharedSubscription(this, channel, options);
    this.subs.set(channel, s);
    return s;
  }

  getSubscription(channel: string): SharedSubscription | undefined {
    return this.subs.get(channel);
  }

  removeSubscription(sub: SharedSubscription): void {
    sub.unsubscribe();
    if (this.subs.get(sub.channel) === sub) this.subs.delete(sub.channel);
  }

  subscriptions(): SharedSubscription[] {
    return [...this.subs.values()];
  }

  publish(channel: string, data: unknown, opts: PublishOptions = {}): Promise<PublishResult> {
    return this.call("publish", [channel, data], opts) as Promise<PublishResult>;
  }
  history(channel: string, opts: HistoryOptions = {}): Promise<HistoryResult> {
    return this.call("history", [channel], opts) as Promise<HistoryResult>;
  }
  presence(channel: string, opts: CallOptions = {}): Promise<PresenceResult> {
    return this.call("presence", [channel], opts) as Promise<PresenceResult>;
  }
  presenceStats(channel: string, opts: CallOptions = {}): Promise<PresenceStatsResult> {
    return this.call("presenceStats", [channel], opts) as Promise<PresenceStatsResult>;
  }
  rpc(method: string, data?: unknown, opts: CallOptions = {}): Promise<unknown> {
    return this.call("rpc", [method, data], opts);
  }

  /** call runs a Client method in the worker; the AbortSignal stays here, the rest crosses. */
  private call(m: CallMethod, args: unknown[], opts: CallOptions): Promise<unknown> {
    const { signal, ...rest } = opts;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const id = ++this.nextId;
      const go = () => {
        this.calls.set(id, { resolve, reject });
        this.send({ t: "call", id, m, a: [...args, rest] });
      };
      signal?.addEventListener("abort", () => {
        this.calls.delete(id);
        reject(signal.reason);
      });
      if (this.wantsConn) go();
      else this.held.push(go);
    });
  }

  /** @internal */
  register(s: SharedSubscription): void {
    if (!this.wantsConn) return; // sent on connect()
    this.send({ t: "sub", ch: s.channel, since: s.position, token: s.opts.token, getToken: !!s.opts.getToken });
  }

  /** @internal */
  unregister(s: SharedSubscription): void {
    this.send({ t: "unsub", ch: s.channel });
  }

  private onMessage(m: WorkerMessage): void {
    switch (m.t) {
      case "ev":
        if (this.wantsConn) this.fromWorker(m.n, eventFromWire(m.n, m.e));
        return;
      case "sub":
        this.subs.get(m.ch)?.fromWorker(m.n, eventFromWire(m.n, m.e));
        return;
      case "reply": {
        const c = this.calls.get(m.id);
        this.calls.delete(m.id);
        if (c) m.err ? c.reject(errorFromWire(m.err)) : c.resolve(m.v);
        return;
      }
      case "token":
        void this.token(m.id, m.ch);
        return;
      case "ping":
        return this.send({ t: "pong" });
      case "log":
        this.log?.(m.line);
        return;
      case "who":
        return this.hello();
    }
  }

  private async token(id: number, ch?: string): Promise<void> {
    try {
      const get = ch ? this.subs.get(ch)?.opts.getToken : undefined;
      const token = ch ? await get!(ch) : await this.o.getToken!();
      this.send({ t: "token", id, token });
    } catch (err) {
      this.send({ t: "token", id, err: errorToWire(err) as WireError });
    }
  }
}

Client.sharedFactory = (url, options) => {
  if (typeof SharedWorker === "undefined") return null; // a connection per tab
  const s = options.shared;
  const workerUrl = (typeof s === "object" && s.workerUrl) || (scriptDir && scriptDir + "herald-shared-worker.min.js");
  if (!workerUrl) {
    throw new Error("herald: shared: pass shared.workerUrl, the URL of herald-shared-worker.min.js (it could not be found next to this script)");
  }
  return new SharedClient(url, options, workerUrl) as unknown as Client;
};
