import { batch, type ServerMessage } from "./codec.js";
import { ClientCode, clientReasons, HeraldError } from "./errors.js";
import type { Clock, Transport, WebSocketLike } from "./types.js";

/** Why a connection ended and whether the client may reconnect. */
export interface Ending {
  code: number;
  reason: string;
  reconnect: boolean;
}

export function clientEnding(code: number, detail?: string): Ending {
  return { code, reason: clientReasons[code] + (detail ? ": " + detail : ""), reconnect: true };
}

export type ReplyHandler = (r: ServerMessage | null, err?: HeraldError) => void;

/**
 * Conn is one WebSocket connection: its outbound queue, the replies it
 * waits for and its timers. It never outlives the socket: when it ends,
 * every timer is cleared and every waiting call fails, so nothing of one
 * connection leaks into the next.
 */
export class Conn {
  connected = false;
  ended = false;
  /** The server's disconnect push, which decides over the close code. */
  disconnect?: Ending;
  /** Set when 118 answered connect once, so that a second 118 counts as a failure. */
  retried118 = false;
  /** ms without any message after which the server counts as dead; 0: no watch. */
  readTimeout = 0;
  connectTimer: unknown;
  last: number;
  private out: string[] = [];
  private flushing = false;
  private pending = new Map<number, ReplyHandler>();
  private timers = new Set<unknown>();

  constructor(
    /** The transport's name, for the connected event. */
    readonly t: Transport,
    readonly ws: WebSocketLike,
    private clock: Clock,
    private maxMessageSize: number,
    private log: ((line: string) => void) | null,
    private onWriteError: (err: unknown) => void,
  ) {
    this.last = clock.now();
  }

  /**
   * send queues a command. Everything queued in one turn of the event loop
   * goes out together, joined with "\n" into as few messages as fit.
   */
  send(cmd: object, id: number, handler?: ReplyHandler): void {
    if (this.ended) {
      handler?.(null, lost());
      return;
    }
    if (handler) this.pending.set(id, handler);
    this.out.push(JSON.stringify(id ? { id, ...cmd } : cmd));
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** sendNow writes one message at once, ahead of the queue: the pong, which must not wait. */
  sendNow(msg: string): void {
    this.write([msg]);
  }

  private flush(): void {
    this.flushing = false;
    if (this.ended || !this.out.length) return;
    const msgs = batch(this.out, this.maxMessageSize);
    this.out = [];
    this.write(msgs);
  }

  private write(msgs: string[]): void {
    for (const m of msgs) {
      if (this.ended) return;
      this.log?.("→ " + m);
      try {
        this.ws.send(m);
      } catch (err) {
        this.onWriteError(err);
        return;
      }
    }
  }

  /** take returns the handler waiting for a reply with this id. */
  take(id: number): ReplyHandler | undefined {
    const h = this.pending.get(id);
    this.pending.delete(id);
    return h;
  }

  /** after runs fn in ms unless the connection ends first. */
  after(ms: number, fn: () => void): unknown {
    const h = this.clock.setTimeout(() => {
      this.timers.delete(h);
      if (!this.ended) fn();
    }, ms);
    this.timers.add(h);
    return h;
  }

  cancel(h: unknown): void {
    if (h === undefined) return;
    this.clock.clearTimeout(h);
    this.timers.delete(h);
  }

  /**
   * end stops the connection: timers cleared, the socket closed (1000
   * when the client ends it cleanly; terminate, without a handshake, for
   * a dead server where the socket offers it), every waiting call failed.
   */
  end(why: HeraldError, code?: number, reason?: string, terminate = false): void {
    if (this.ended) return;
    this.ended = true;
    for (const h of this.timers) this.clock.clearTimeout(h);
    this.timers.clear();
    const ws = this.ws;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = () => {}; // a late error on a closed socket is not news
    const t = (ws as { terminate?: () => void }).terminate;
    try {
      if (terminate && t) t.call(ws);
      else if (ws.readyState < 2) ws.close(code, reason);
    } catch {
      // Browsers refuse close codes other than 1000 and 3000-4999.
      try {
        ws.close();
      } catch {
        // already closing
      }
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const h of pending) h(null, why);
  }
}

/** lost is the error of a call whose connection ended before its reply. */
export function lost(): HeraldError {
  return new HeraldError(
    ClientCode.TransportClosed,
    "connection lost before the reply: the command may or may not have been carried out",
  );
}
