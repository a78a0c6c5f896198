// cluster.mjs holds what the multi-node browser tests need around the
// pages: a real redis-server, Herald nodes sharing it (each can be killed
// and started again on its port), and a real nginx in front of them with
// a configuration of deploy/nginx, its example ports replaced by the
// test's. Each part is stopped by the close function it returns.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Herald } from "./harness.mjs";
import { freePort, until } from "../test/lib/herald.mjs";

const deployNginx = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "deploy", "nginx");

/** sbin finds a daemon Debian installs outside a user's PATH (nginx). */
function sbin(name) {
  for (const d of (process.env.PATH || "").split(":").concat("/usr/sbin", "/sbin")) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  throw new Error(`${name} is not installed (ci/test.sh installs it)`);
}

/** daemon runs a foreground process, keeping its stderr for the error of a failed start. */
function daemon(bin, args) {
  const p = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  p.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((r) => p.once("exit", r));
  return {
    p,
    get stderr() {
      return stderr;
    },
    async close() {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      await exited;
    },
  };
}

/** listening waits until host:port accepts a TCP connection (or the process p has exited). */
function listening(port, d, what) {
  return until(async () => {
    if (d.p.exitCode !== null) throw new Error(`${what} exited with ${d.p.exitCode}:\n${d.stderr}`);
    return new Promise((resolve) => {
      const s = createConnection(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
  }, `${what} listening on ${port}`);
}

/** startRedis runs a redis-server on a free port, with no persistence. */
export async function startRedis() {
  const port = await freePort();
  const d = daemon(sbin("redis-server"), ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
  await listening(port, d, "redis-server");
  return { addr: `127.0.0.1:${port}`, close: () => d.close() };
}

/** startNode starts a Herald node (--dev, plus config) with the Redis broker at redisAddr. */
export async function startNode(redisAddr, config = "") {
  const h = new Herald(await freePort(), `broker: redis\nredis:\n  address: [${redisAddr}]\n${config}`);
  await h.start();
  return h;
}

/**
 * withPorts puts addrs in place of the example nodes (server
 * 127.0.0.1:800N lines) of an nginx config and drops the examples left
 * over, as deploy/helpers_test.go does for the Go tests.
 */
function withPorts(conf, addrs) {
  const re = /^(\s*server\s+)127\.0\.0\.1:800\d(.*)\n/gm;
  const n = (conf.match(re) || []).length;
  if (n < addrs.length) throw new Error(`the config has ${n} example servers, the test needs ${addrs.length}`);
  let i = 0;
  return conf.replace(re, (_, head, tail) => (i < addrs.length ? `${head}${addrs[i++]}${tail}\n` : ""));
}

/**
 * startNginx runs nginx in the foreground in front of addrs with one of
 * the shipped configurations, and serves pages (path to HTML) from the
 * same origin:
 *  - "normal": deploy/nginx/upstream.conf and herald.conf, as deployed;
 *  - "strip": deploy/nginx/strip-upgrade.conf, the test fixture of a
 *    proxy that strips Upgrade and Connection.
 * Resolves with its base URL, its requests so far and a close function.
 */
export async function startNginx(kind, addrs, pages = {}) {
  const dir = mkdtempSync(join(tmpdir(), "herald-e2e-nginx-"));
  for (const [path, html] of Object.entries(pages)) writeFileSync(join(dir, path.replace(/^\//, "")), html);
  const pageLocations = Object.keys(pages)
    .map((path) => `location = ${path} { root ${dir}; default_type text/html; }\n`)
    .join("");
  const port = await freePort();
  const read = (name) => readFileSync(join(deployNginx, name), "utf8");
  let body;
  if (kind === "normal") {
    writeFileSync(join(dir, "upstream.conf"), withPorts(read("upstream.conf"), addrs));
    writeFileSync(join(dir, "herald.conf"), read("herald.conf"));
    body = `include ${dir}/upstream.conf;
  server {
    listen 127.0.0.1:${port};
    ${pageLocations}
    include ${dir}/herald.conf;
  }`;
  } else if (kind === "strip") {
    let conf = withPorts(read("strip-upgrade.conf"), addrs);
    if (!conf.includes("listen 127.0.0.1:8080;") || !conf.includes("    location / {")) throw new Error("strip-upgrade.conf: no listen line or location / to adapt");
    conf = conf.replace("listen 127.0.0.1:8080;", `listen 127.0.0.1:${port};`).replace("    location / {", `    ${pageLocations}    location / {`);
    writeFileSync(join(dir, "strip-upgrade.conf"), conf);
    body = `include ${dir}/strip-upgrade.conf;`;
  } else {
    throw new Error(`unknown nginx configuration ${kind}`);
  }
  const main = `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  # Which node each request went to: the tests read it.
  log_format upstream '$request_method $uri $status $upstream_addr';
  access_log ${dir}/access.log upstream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${body}
}
`;
  writeFileSync(join(dir, "nginx.conf"), main);
  const d = daemon(sbin("nginx"), ["-c", join(dir, "nginx.conf"), "-p", dir, "-e", join(dir, "error.log")]);
  try {
    await listening(port, d, "nginx");
  } catch (err) {
    const log = existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "";
    throw new Error(`${err.message}\n${log}`);
  }
  return {
    base: `http://127.0.0.1:${port}`,
    /** requests is the access log so far: method, path, status and node address (a retry lists each it tried). */
    requests() {
      const log = existsSync(join(dir, "access.log")) ? readFileSync(join(dir, "access.log"), "utf8") : "";
      return log
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const [method, path, status, ...upstream] = l.split(" ");
          return { method, path, status, upstream: upstream.join(" ") };
        });
    },
    async close() {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
