import { backoff } from "./backoff.js";
import type { Client } from "./client.js";
import type { ServerMessage } from "./codec.js";
import { ErrorCode } from "./codes.js";
import type { Conn } from "./conn.js";
import { RefreshError, replyError, TokenError } from "./errors.js";

/**
 * renew runs one refresh after ms and retries it as the spec's "Token
 * refresh" says: temporary errors and 118 again after min(delay(n), time
 * left / 2), at least minReconnectDelay, until the expiry; others not.
 * It is shared by the connection's refresh and the subscriptions'.
 * @internal
 */
export function renew(
  c: Client,
  cn: Conn,
  ms: number,
  expires: number,
  n: number,
  getToken: () => Promise<string>,
  cmd: (token: string) => object,
  channel: string | undefined,
  done: (r: ServerMessage) => void,
  still: () => boolean = () => true,
): void {
  cn.after(ms, async () => {
    let token: string;
    try {
      token = await getToken();
    } catch (err) {
      if (!cn.ended && still()) c.emitError(new TokenError(err, channel));
      return;
    }
    if (cn.ended || !still()) return;
    c.command(cmd(token), (r) => {
      if (!r || !still()) return;
      if (!r.error) return done(r);
      const e = replyError(r.error, channel);
      const now = c.clock.now();
      const left = expires - now;
      const min = c.o.minReconnectDelay;
      const d = Math.max(Math.min(backoff(n, min, c.o.maxReconnectDelay, c.random), left / 2), min);
      const again = (e.temporary || e.code === ErrorCode.TokenExpired) && d < left;
      c.emitError(new RefreshError(e, again, channel));
      if (again) renew(c, cn, d, expires, n + 1, getToken, cmd, channel, done, still);
    });
  });
}
