import { backoff, refreshDelay } from "./backoff.js";
import { pub, type ServerMessage, type WirePub, type WireSubscribe } from "./codec.js";
import { ErrorCode } from "./codes.js";
import type { Client } from "./client.js";
import { catchUp } from "./httphistory.js";
import { renew } from "./refresh.js";
import type { Conn, Ending } from "./conn.js";
import { Emitter } from "./emitter.js";
import { ClientCode, clientReasons, GapError, HeraldError, replyError, TokenError } from "./errors.js";
import { place } from "./position.js";
import { wait, type Waiter } from "./wait.js";
import type {
  CallOptions,
  HistoryOptions,
  HistoryResult,
  Position,
  PresenceResult,
  PresenceStatsResult,
  PublishOptions,
  PublishResult,
  SubscribedEvent,
  SubscriptionEvents,
  SubscriptionOptions,
  SubscriptionState,
} from "./types.js";

/**
 * Subscription is the client's subscription to one channel. Once
 * subscribe() is called it is wanted: it comes back after every
 * reconnect, recovering what it missed from its position, until
 * unsubscribe(), a refusal or the server's unsub.
 */
export class Subscription extends Emitter<SubscriptionEvents> {
  state: SubscriptionState = "unsubscribed";
  /** @internal */ wanted = false;
  /** Bumped by every subscribe sent and every end, so that a reply or timer of an older one does nothing. */
  private gen = 0;
  private pos?: Position;
  private recoverable = false;
  /** The last subscribe reply's history_http: recover from GET /history/ first. */
  private http = false;
  private tempErrors = 0;
  private waiters: Waiter<SubscribedEvent>[] = [];
  private last?: SubscribedEvent;

  /** @internal */
  constructor(
    private c: Client,
    readonly channel: string,
    private opts: SubscriptionOptions,
  ) {
    super();
    if (opts.since) {
      this.pos = { ...opts.since };
      this.recoverable = true;
    }
  }

  /** The last publication handed to the application, to store and pass as `since` later. */
  get position(): Position | undefined {
    return this.pos && { ...this.pos };
  }

  /** subscribe makes the subscription wanted: Subscribing, and a subscribe command once connected. */
  subscribe(): void {
    if (this.wanted) return;
    this.wanted = true;
    if (this.state === "subscribed") return; // the server API subscribed it already
    this.setState("subscribing", { code: ClientCode.SubscribeCalled, reason: clientReasons[ClientCode.SubscribeCalled] });
    const cn = this.c.conn;
    if (cn?.connected) this.send(cn);
  }

  /**
   * unsubscribe ends the subscription at once and forgets its position;
   * no publication follows its "unsubscribed" event.
   */
  unsubscribe(): void {
    if (this.state === "unsubscribed" && !this.wanted) return;
    this.end({ code: ClientCode.UnsubscribeCalled, reason: clientReasons[ClientCode.UnsubscribeCalled] });
    if (this.c.conn?.connected) this.c.command({ unsubscribe: { channel: this.channel } }, () => {});
  }

  /** ready resolves once Subscribed (at once if it is); it rejects when the subscription ends or after timeoutMs. */
  ready(timeoutMs?: number): Promise<SubscribedEvent> {
    if (this.state === "subscribed" && this.last) return Promise.resolve(this.last);
    return wait(this.waiters, this.c.clock, timeoutMs);
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

  /** send subscribes on cn: with a token from getToken if set, recovering from the position if it has one. @internal */
  send(cn: Conn): void {
    const gen = ++this.gen;
    const go = (token?: string) => {
      if (gen !== this.gen || cn.ended) return;
      const from = this.pos;
      const recovering = !!from && this.recoverable;
      // early: what GET /history/ gave; the subscribe recovers after it.
      const fire = (early: WirePub[]) => {
        if (gen !== this.gen || cn.ended) return;
        const req: Record<string, unknown> = { channel: this.channel };
        if (token) req.token = token;
        if (recovering) {
          req.recover = true;
          const offset = early.length ? early[early.length - 1].offset : from!.offset;
          if (offset) req.offset = offset;
          if (from!.epoch) req.epoch = from!.epoch;
        }
        this.c.command({ subscribe: req }, (r) => r && gen === this.gen && this.onReply(cn, r, recovering, early));
      };
      if (recovering && this.http && from!.epoch) catchUp(this.c.url, this.channel, from!).then(fire);
      else fire([]);
    };
    const getToken = this.opts.getToken;
    if (!getToken) return go(this.opts.token);
    getToken(this.channel).then(go, (err) => {
      if (gen !== this.gen || cn.ended) return;
      this.c.emitError(new TokenError(err, this.channel));
      this.again(cn, this.tempErrors++);
    });
  }

  /** again subscribes once more on cn after delay(n). */
  private again(cn: Conn, n: number): void {
    const gen = this.gen;
    cn.after(backoff(n, this.c.o.minReconnectDelay, this.c.o.maxReconnectDelay, this.c.random), () => {
      if (gen === this.gen && this.wanted) this.send(cn);
    });
  }

  private onReply(cn: Conn, r: ServerMessage, recovering: boolean, early: WirePub[]): void {
    if (r.error) {
      const e = replyError(r.error, this.channel);
      // 118: getToken gave a token that had expired already; the next may
      // not have, but a second failure in a row ends the subscription.
      if (e.temporary || (e.code === ErrorCode.TokenExpired && this.opts.getToken && !this.tempErrors)) {
        this.c.emitError(e);
        return this.again(cn, this.tempErrors++);
      }
      this.end({ code: e.code, reason: r.error.message || "" }, e);
      return;
    }
    this.tempErrors = 0;
    this.subscribed(cn, (r.subscribe || {}) as WireSubscribe, recovering, early);
  }

  private subscribed(cn: Conn, res: WireSubscribe, recovering: boolean, early: WirePub[] = []): void {
    const epoch = res.epoch || "";
    const ev: SubscribedEvent = {
      channel: this.channel,
      wasRecovering: recovering,
      recovered: recovering && !!res.recovered,
      recoverable: !!res.recoverable,
      offset: res.offset || 0,
      epoch,
    };
    this.last = ev;
    this.setState("subscribed");
    this.c.emit(this, "subscribed", ev);
    for (const w of this.waiters.splice(0)) w.resolve(ev);
    // Pages of another epoch are another history: the reply says not recovered.
    const read = this.pos?.epoch === epoch ? early : [];
    for (const p of read.concat(res.publications || [])) {
      const e = p.epoch || epoch;
      if (this.pos && this.pos.epoch === e && (p.offset || 0) <= this.pos.offset) continue;
      this.c.emit(this, "publication", pub(this.channel, p, epoch));
    }
    this.recoverable = !!res.recoverable;
    this.http = !!res.history_http;
    this.pos = res.recoverable ? { offset: res.offset || 0, epoch } : undefined;
    if (res.expires && this.opts.getToken) this.scheduleRefresh(cn, res.ttl || 0);
  }

  private scheduleRefresh(cn: Conn, ttl: number): void {
    const t = Math.max(ttl, 1);
    const gen = this.gen;
    const getToken = this.opts.getToken!;
    renew(
      this.c,
      cn,
      refreshDelay(t, this.c.random),
      this.c.clock.now() + t * 1000,
      0,
      () => getToken(this.channel),
      (token) => ({ sub_refresh: { channel: this.channel, token } }),
      this.channel,
      (r) => {
        const x = r.sub_refresh as { expires?: boolean; ttl?: number } | undefined;
        if (x?.expires) this.scheduleRefresh(cn, x.ttl || 0);
      },
      () => gen === this.gen && this.state === "subscribed",
    );
  }

  /** push handles a push about this channel. @internal */
  push(m: ServerMessage): void {
    if (m.pub) {
      if (this.state === "subscribed") this.onPub(m.pub);
    } else if (m.join || m.leave) {
      if (this.state === "subscribed") this.c.emit(this, m.join ? "join" : "leave", (m.join || m.leave)!);
    } else if (m.sub) {
      // The server API subscribed the connection: Subscribed with the push's position.
      if (this.state !== "subscribed" && this.c.conn) {
        this.gen++;
        this.subscribed(this.c.conn, m.sub as WireSubscribe, false);
      }
    } else if (m.unsub) {
      if (this.state !== "unsubscribed") this.end({ code: ClientCode.ServerUnsubscribed, reason: clientReasons[ClientCode.ServerUnsubscribed] });
    }
  }

  private onPub(p: WirePub): void {
    if (!p.offset) {
      this.c.emit(this, "publication", pub(this.channel, p, ""));
      return;
    }
    const pl = place(this.pos, p.offset, p.epoch);
    if (!pl.deliver) return;
    if (pl.gap !== undefined) this.c.emitError(new GapError(this.channel, pl.gap, p.offset, pl.pos!.epoch));
    this.c.emit(this, "publication", pub(this.channel, p, pl.pos!.epoch));
    this.pos = pl.pos;
  }

  /**
   * lost is told that the connection ended: a wanted subscription goes
   * back to Subscribing to come back on the next one; one the server API
   * made ends with the connection. @internal
   */
  lost(end: Ending): void {
    this.gen++;
    if (this.state !== "subscribed") return;
    if (this.wanted) this.setState("subscribing", end);
    else this.end(end);
  }

  private end(e: { code: number; reason: string }, err?: HeraldError): void {
    this.wanted = false;
    this.gen++;
    this.pos = undefined;
    this.recoverable = false;
    this.setState("unsubscribed", e);
    const why = err || new HeraldError(e.code, e.reason, { channel: this.channel });
    for (const w of this.waiters.splice(0)) w.reject(why);
  }

  private setState(to: SubscriptionState, e?: { code: number; reason: string }): void {
    const from = this.state;
    this.state = to;
    this.c.log?.(`subscription ${this.channel}: ${from} → ${to}${e ? ` (${e.code} ${e.reason})` : ""}`);
    this.c.emit(this, "state", { from, to });
    if (e) this.c.emit(this, to as "subscribing" | "unsubscribed", e);
  }
}
