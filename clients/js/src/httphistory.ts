import type { WirePub } from "./codec.js";
import type { Position } from "./types.js";
import { historyURL } from "./url.js";

/**
 * catchUp reads what came after `from` at GET /history/{channel}, page by
 * page, where an HTTP cache or a CDN may answer instead of the server
 * (docs/protocol.md, history_http). It stops at the first failure or gap
 * and resolves with what it read so far, in order and without a gap: the
 * subscribe that follows recovers the rest over the connection.
 */
export async function catchUp(ws: string, channel: string, from: Position): Promise<WirePub[]> {
  const out: WirePub[] = [];
  let since = from.offset;
  try {
    for (;;) {
      const r = await fetch(historyURL(ws, channel, from.epoch, since));
      if (!r.ok) return out;
      const p = (await r.json()) as { publications: WirePub[]; next?: number };
      for (const x of p.publications) {
        if (x.offset !== since + 1) return out;
        out.push(x);
        since = x.offset;
      }
      if (!p.publications.length || p.next !== since) return out;
    }
  } catch {
    return out;
  }
}
