const endpoint = "/connection/websocket";

/**
 * endpointURL turns a base URL (`https://host`, `http://host/prefix`) or
 * the endpoint itself into the WebSocket endpoint: http(s) becomes ws(s),
 * and /connection/websocket is appended unless the path ends with it.
 */
export function endpointURL(base: string): string {
  const u = new URL(base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  let p = u.pathname.replace(/\/+$/, "");
  if (!p.endsWith(endpoint)) p += endpoint;
  u.pathname = p;
  return u.toString();
}

/** historyURL is the page of channel after `since` at GET /history/{channel}, next to the WebSocket endpoint ws. */
export function historyURL(ws: string, channel: string, epoch: string, since: number): string {
  const u = new URL(ws);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = u.pathname.slice(0, -endpoint.length) + "/history/" + encodeURIComponent(channel);
  u.search = `?epoch=${encodeURIComponent(epoch)}&since=${since}`;
  return u.toString();
}
