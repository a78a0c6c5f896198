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
