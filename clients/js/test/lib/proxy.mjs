// proxy.mjs: a real HTTP proxy for the tests of the transport fallback.
import http from "node:http";
import net from "node:net";

/**
 * noUpgradeProxy forwards plain HTTP to target, streaming both ways, and
 * answers every Upgrade with 400, as a proxy that strips Upgrade makes the
 * WebSocket handshake fail. pages maps a path to HTML the proxy serves
 * itself. With passUpgrades it is the normal proxy instead: Upgrade
 * requests go through as raw TCP. Resolves with its base URL and a close
 * function.
 */
export async function noUpgradeProxy(target, pages = {}, passUpgrades = false) {
  const t = new URL(target);
  const srv = http.createServer((req, res) => {
    if (pages[req.url]) return res.end(pages[req.url]);
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (pres) => {
      res.writeHead(pres.statusCode, pres.headers);
      pres.pipe(res);
      // A killed server resets the connection: end the client's too.
      pres.on("close", () => res.destroy());
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  srv.on("upgrade", (req, socket, head) => {
    if (!passUpgrades) return socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    const up = net.connect(Number(t.port), t.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(lines.join("\r\n") + "\r\n\r\n");
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return {
    base: `http://127.0.0.1:${srv.address().port}`,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(r);
      }),
  };
}
