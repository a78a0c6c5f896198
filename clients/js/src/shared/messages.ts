/**
 * The messages between a tab (tab.ts) and the SharedWorker (worker.ts)
 * that holds the one real Client of `shared: true`, and how errors cross
 * between them: structured clone keeps only an Error's name and message,
 * so the code, channel and the rest travel as plain fields and the tab
 * rebuilds an error of the same class.
 */
import { GapError, HeraldError, RefreshError, TokenError } from "../errors.js";
import type { ClientOptions, Position } from "../types.js";

/** The options a tab can hand to the worker: functions and constructors cannot cross. */
export type WireOptions = Pick<
  ClientOptions,
  "token" | "data" | "name" | "version" | "minReconnectDelay" | "maxReconnectDelay" | "pingGrace" | "connectTimeout" | "maxMessageSize"
>;

export type CallMethod = "publish" | "history" | "presence" | "presenceStats" | "rpc";

/** Tab to worker. */
export type TabMessage =
  | { t: "hello"; url: string; opts: WireOptions; getToken: boolean; debug: boolean }
  | { t: "connect" }
  | { t: "disconnect" }
  | { t: "sub"; ch: string; since?: Position; token?: string; getToken: boolean }
  | { t: "unsub"; ch: string }
  | { t: "call"; id: number; m: CallMethod; a: unknown[] }
  | { t: "token"; id: number; token?: string; err?: WireError }
  | { t: "pong" }
  | { t: "bye" };

/** Worker to tab. */
export type WorkerMessage =
  | { t: "ev"; n: string; e: unknown }
  | { t: "sub"; ch: string; n: string; e: unknown }
  | { t: "reply"; id: number; v?: unknown; err?: WireError }
  | { t: "token"; id: number; ch?: string }
  | { t: "ping" }
  | { t: "log"; line: string }
  | { t: "who" };

export interface WireError {
  name: string;
  message: string;
  fields: Record<string, unknown>;
}

const classes: Record<string, { prototype: Error }> = { HeraldError, GapError, TokenError, RefreshError };

export function errorToWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (k === "cause") fields[k] = v instanceof Error ? v.message : String(v);
    else if (v instanceof Error) fields[k] = errorToWire(v);
    else if (typeof v !== "function") fields[k] = v;
  }
  return { name: err.name, message: err.message, fields };
}

export function errorFromWire(w: WireError): Error {
  const e = new Error(w.message);
  const cls = classes[w.name];
  if (cls) Object.setPrototypeOf(e, cls.prototype);
  for (const [k, v] of Object.entries(w.fields)) {
    const nested = v as WireError | null;
    (e as unknown as Record<string, unknown>)[k] =
      nested && typeof nested === "object" && "fields" in nested ? errorFromWire(nested) : v;
  }
  e.name = w.name;
  return e;
}

/** Events whose payload is {error}: the error is sent as a WireError. */
export function eventToWire(n: string, e: unknown): unknown {
  return n === "error" ? { error: errorToWire((e as { error: unknown }).error) } : e;
}

export function eventFromWire(n: string, e: unknown): unknown {
  return n === "error" ? { error: errorFromWire((e as { error: WireError }).error) } : e;
}
