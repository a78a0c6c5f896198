import { disconnects, ErrorCode, temporaryErrors } from "./codes.js";

/**
 * The client's own codes, below 100 so that they never clash with the
 * server's (errors 100-199, disconnects 1000-4999). Events carry one `code`
 * whatever its source, as docs/client-spec.md ("Codes") describes.
 */
export const ClientCode = {
  ConnectCalled: 0,
  TransportClosed: 1,
  NoPing: 2,
  ClientClosed: 3,
  ConnectTimeout: 4,
  BadServerMessage: 5,
  SubscribeCalled: 6,
  UnsubscribeCalled: 7,
  ServerUnsubscribed: 8,
} as const;

/** The reasons that go with the client's own codes, as the Go client words them. */
export const clientReasons: readonly string[] = [
  "connect called",
  "transport closed",
  "no ping from the server",
  "client closed",
  "no connect reply in time",
  "the server sent an invalid message",
  "subscribe called",
  "unsubscribe called",
  "unsubscribed by the server",
];

const clientNames = [
  "connect_called",
  "transport_closed",
  "no_ping",
  "client_closed",
  "connect_timeout",
  "bad_server_message",
  "subscribe_called",
  "unsubscribe_called",
  "server_unsubscribed",
];

const errorNames: Record<number, string> = {};
for (const [k, v] of Object.entries(ErrorCode)) {
  errorNames[v] = k.replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/**
 * codeName names any code the client reports: the catalog's names for the
 * server's codes (`permission_denied`, `shutdown`), the client's own below
 * 100, and `"error"` for a code this client does not know (a newer
 * server's).
 */
export function codeName(code: number): string {
  return (code < 100 ? clientNames[code] : errorNames[code] || disconnects[code]?.name) || "error";
}

/**
 * HeraldError is every error the client reports: an error reply from the
 * server (`code` 100-199, with its `message`), a disconnect code that
 * stops the client, or a local failure with a client code. Programs act on
 * `code`; `temporary` says the same call may succeed later.
 */
export class HeraldError extends Error {
  readonly code: number;
  readonly codeName: string;
  readonly temporary: boolean;
  /** The channel a subscription's error is about, if any. */
  readonly channel?: string;
  constructor(code: number, message: string, opts?: { temporary?: boolean; channel?: string; cause?: unknown }) {
    super(`herald: ${code} ${codeName(code)}: ${message}`);
    this.name = "HeraldError";
    this.code = code;
    this.codeName = codeName(code);
    this.temporary = opts?.temporary ?? temporaryErrors.has(code);
    if (opts?.channel !== undefined) this.channel = opts.channel;
    if (opts?.cause !== undefined) (this as { cause?: unknown }).cause = opts.cause;
  }
}

/** What the server sends as `error` in a reply. */
export interface WireError {
  code: number;
  message?: string;
  temporary?: boolean;
}

export function replyError(e: WireError, channel?: string): HeraldError {
  return new HeraldError(e.code, e.message || "", { temporary: !!e.temporary, channel });
}

/**
 * GapError reports publications that never arrived in a channel with
 * history: a publication came with an offset beyond the next expected one.
 * The publication that showed the gap is delivered; read the missing ones
 * with `history`, or refetch the state.
 */
export class GapError extends Error {
  constructor(
    readonly channel: string,
    /** The offset that should have come next. */
    readonly expected: number,
    /** The offset that came. */
    readonly got: number,
    readonly epoch: string,
  ) {
    super(`herald: "${channel}": publications ${expected} to ${got - 1} are missing (epoch "${epoch}")`);
    this.name = "GapError";
  }
}

/**
 * TokenError reports that `getToken` failed: the client's (`channel`
 * undefined) or a subscription's. The attempt it was for fails and is
 * retried with backoff; before a refresh, the server ends the expired
 * connection (4005, and the client reconnects) or subscription.
 */
export class TokenError extends Error {
  constructor(
    readonly cause: unknown,
    readonly channel?: string,
  ) {
    super(`herald: get token${channel ? ` for "${channel}"` : ""}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "TokenError";
  }
}

/**
 * RefreshError reports that the server refused a refresh of expiring
 * credentials: the connection's (`channel` undefined) or a subscription
 * token's. `retrying` says the client tries again before they expire.
 */
export class RefreshError extends Error {
  constructor(
    readonly error: HeraldError,
    readonly retrying: boolean,
    readonly channel?: string,
  ) {
    super(
      `herald: refresh of ${channel ? `the token of "${channel}"` : "the connection's credentials"} refused, ${retrying ? "retrying" : "they will expire"}: ${error.message}`,
    );
    this.name = "RefreshError";
  }
}
