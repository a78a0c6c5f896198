import type { HeraldError } from "./errors.js";

/** The part of the WebSocket API the client uses: the browser's, Node 22's, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Timers and the current time; replaceable so that tests run on virtual time. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ClientOptions {
  /** Connection token (a JWT from the application backend), sent with every connect. */
  token?: string;
  /**
   * Called before each connect, before each refresh of expiring
   * credentials, and once after a connect answered with 118
   * token_expired, for a fresh token; replaces `token`. A rejection fails
   * the attempt (a TokenError on "error") and the client retries with backoff.
   */
  getToken?: () => Promise<string>;
  /** Passed to the application's connect hook; must be JSON. */
  data?: unknown;
  /** Sent in connect for the server's logs and metrics. Default "herald-js" and this library's version. */
  name?: string;
  version?: string;
  /** Backoff base in ms: attempt n waits a random time in [0, min(max, min*2^n)). Default 200. */
  minReconnectDelay?: number;
  /** Backoff cap in ms. Default 20000. A small cap brings every client of a failed node back at once. */
  maxReconnectDelay?: number;
  /** How late the server's ping may be, in ms, before the connection counts as dead. Default 10000. */
  pingGrace?: number;
  /** Bound on opening the WebSocket plus the connect reply, in ms. Default 10000. */
  connectTimeout?: number;
  /** The server's websocket.max_message_size: commands are batched into messages up to this size. Default 65536. */
  maxMessageSize?: number;
  /** WebSocket constructor where there is no global one (Node 20: the `ws` package). Default globalThis.WebSocket. */
  websocket?: unknown;
  /** Log every frame in and out and every state change with a timestamp: true for console.debug, or a function of one line. Default off. */
  debug?: boolean | ((line: string) => void);
  /**
   * All tabs of one origin share one WebSocket through a SharedWorker;
   * where SharedWorker is missing the client falls back to a connection
   * per tab. Default false. Works only where the shared mode is bundled
   * (see Client.sharedFactory).
   */
  shared?: boolean | { workerUrl?: string };
  /**
   * The transports to try, in order: "websocket", "sse" (where
   * EventSource exists), "http_stream" (where fetch streams). An attempt
   * that fails before the connect reply (the upgrade refused, or nothing
   * within connectTimeout) moves the next attempt to the next transport;
   * the one that connected is tried first from then on, in this tab's
   * session (sessionStorage; memory in Node). Default all three.
   */
  transports?: Transport[];
  /** Random numbers in [0, 1) for backoff and refresh jitter. Default Math.random; for tests. */
  random?: () => number;
  /** Timers; default the global ones. For tests that run on virtual time. */
  clock?: Clock;
}

export type ClientState = "disconnected" | "connecting" | "connected";
export type SubscriptionState = "unsubscribed" | "subscribing" | "subscribed";

/** Why a state began: a client code (below 100) or the server's code, and a reason. */
export interface StateEvent {
  code: number;
  reason: string;
}

export interface ConnectedEvent {
  client: string;
  /** "" for an anonymous connection. */
  user: string;
  /** The server's version. */
  version: string;
  /** The server's ping interval in seconds; 0 means no heartbeat. */
  ping: number;
  /** The transport this connection uses. */
  transport: Transport;
}

export type Transport = "websocket" | "sse" | "http_stream";

export interface ClientInfo {
  client: string;
  user: string;
  info?: unknown;
}

export interface Publication {
  channel: string;
  data: unknown;
  /** Present in a channel with history, for publications that are not ephemeral. */
  offset?: number;
  epoch?: string;
}

export interface Position {
  offset: number;
  epoch: string;
}

export interface SubscribedEvent {
  channel: string;
  /** The subscribe asked to recover from a position. */
  wasRecovering: boolean;
  /** Every missed publication came (they follow as "publication" events). wasRecovering without recovered: refetch the state. */
  recovered: boolean;
  /** The channel keeps history, so it can be recovered later. */
  recoverable: boolean;
  offset: number;
  epoch: string;
}

export interface ClientEvents extends Record<string, unknown> {
  connecting: StateEvent;
  connected: ConnectedEvent;
  disconnected: StateEvent;
  error: { error: Error };
  state: { from: ClientState; to: ClientState };
  /** Publications of channels that have no Subscription object (the server API subscribed the connection). */
  publication: Publication;
}

export interface SubscriptionEvents extends Record<string, unknown> {
  subscribing: StateEvent;
  subscribed: SubscribedEvent;
  unsubscribed: StateEvent;
  publication: Publication;
  join: ClientInfo;
  leave: ClientInfo;
  error: { error: Error };
  state: { from: SubscriptionState; to: SubscriptionState };
}

export interface SubscriptionOptions {
  /** A stored position: the first subscribe recovers from it. */
  since?: Position;
  /** Subscription token for a channel whose namespace wants one, sent with every subscribe. */
  token?: string;
  /** Called before each subscribe and each sub_refresh for a fresh token; replaces `token`. */
  getToken?: (channel: string) => Promise<string>;
}

/** Bounds how long a call waits, for the connection and then for its reply. */
export interface CallOptions {
  /** ms; rejects with an Error named "TimeoutError". Default: no bound. */
  timeout?: number;
  /** Rejects with the signal's reason when it aborts. */
  signal?: AbortSignal;
}

export interface PublishOptions extends CallOptions {
  /** Bypass the channel's history: no offset, not recoverable ("X is typing"). */
  ephemeral?: boolean;
  /** false: the publication is not delivered back to this connection. Default true. */
  echo?: boolean;
}

export interface HistoryOptions extends CallOptions {
  since?: Position;
  limit?: number;
  reverse?: boolean;
}

export interface PublishResult {
  offset?: number;
  epoch?: string;
}

export interface HistoryResult {
  publications: Publication[];
  offset: number;
  epoch: string;
}

export interface PresenceResult {
  clients: Record<string, ClientInfo>;
}

export interface PresenceStatsResult {
  numClients: number;
  numUsers: number;
}

export type { HeraldError };
