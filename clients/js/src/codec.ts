import type { Publication } from "./types.js";

/** The messages of protocol v1 (docs/protocol.md) that the client reads. */
export interface ServerMessage {
  id?: number;
  error?: { code: number; message?: string; temporary?: boolean };
  channel?: string;
  ping?: object;
  disconnect?: { code: number; reason: string; reconnect: boolean; reconnect_in?: number };
  pub?: WirePub;
  join?: WireClientInfo;
  leave?: WireClientInfo;
  sub?: WireSubscribe;
  unsub?: object;
  [reply: string]: unknown;
}

export interface WirePub {
  offset?: number;
  epoch?: string;
  data: unknown;
}

export interface WireClientInfo {
  client: string;
  user: string;
  info?: unknown;
}

export interface WireSubscribe {
  offset?: number;
  epoch?: string;
  recoverable?: boolean;
  recovered?: boolean;
  publications?: WirePub[];
  expires?: boolean;
  ttl?: number;
  history_http?: boolean;
}

/**
 * decodeFrame splits one WebSocket message into its messages: one per
 * line, empty lines (and a trailing "\r") ignored. It throws on a line
 * that is not a JSON object, which the client treats as a broken server.
 */
export function decodeFrame(frame: string): ServerMessage[] {
  const out: ServerMessage[] = [];
  for (const line of frame.split("\n")) {
    const l = line.trim();
    if (!l) continue;
    const m = JSON.parse(l);
    if (m === null || typeof m !== "object" || Array.isArray(m)) throw new SyntaxError(`not a JSON object: ${l.slice(0, 200)}`);
    out.push(m);
  }
  return out;
}

/** utf8Length is the size of s in UTF-8, which is what the server's limit counts. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00) {
      n += 2; // a surrogate pair: 2 units, 4 bytes
      i++;
    } else if (c >= 0x800) n += 2;
    else if (c >= 0x80) n += 1;
  }
  return n;
}

/**
 * batch joins encoded commands with "\n" into WebSocket messages of at
 * most max bytes each; a command longer than max goes alone (and the
 * server closes with 1009, which is the server's to decide).
 */
export function batch(cmds: string[], max: number): string[] {
  const out: string[] = [];
  let cur = "";
  let size = 0;
  for (const c of cmds) {
    const n = utf8Length(c);
    if (cur && size + 1 + n > max) {
      out.push(cur);
      cur = "";
      size = 0;
    }
    cur = cur ? cur + "\n" + c : c;
    size += (size ? 1 : 0) + n;
  }
  if (cur) out.push(cur);
  return out;
}

/** pub turns a wire publication into the application's; epoch is the reply's, for publications without their own. */
export function pub(channel: string, p: WirePub, epoch: string): Publication {
  const out: Publication = { channel, data: p.data };
  if (p.offset) {
    out.offset = p.offset;
    out.epoch = p.epoch || epoch;
  }
  return out;
}
