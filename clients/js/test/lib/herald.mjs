// herald.mjs starts real `herald serve` processes for the integration
// tests: the binary is built once from the repository (go build), each
// server listens on a free loopback port, and is killed when done.
import { execFileSync, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
export const apiKey = "testkey";
/** Every wait for a condition is bounded by this; a passing run never waits for it. */
export const waitTimeout = 30000;

let bin;
const tmp = mkdtempSync(join(tmpdir(), "herald-js-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

/** heraldBin builds ./cmd/herald once per test process. */
export function heraldBin() {
  if (!bin) {
    bin = join(tmp, "herald");
    execFileSync("go", ["build", "-o", bin, "./cmd/herald"], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  }
  return bin;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * startHerald runs `herald serve --dev` (plus a config file when config is
 * given, as YAML text) on addr, or a free port, and resolves once it
 * answers /healthz.
 */
export async function startHerald({ config, port, env } = {}) {
  port ||= await freePort();
  const addr = `127.0.0.1:${port}`;
  const args = ["serve", "--dev", "--listen", addr, "--api-key", apiKey];
  if (config) {
    const f = join(tmp, `herald-${port}-${Date.now()}.yaml`);
    writeFileSync(f, config);
    args.push("--config", f);
  }
  const p = spawn(heraldBin(), args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
  let stderr = "";
  p.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((r) => p.once("exit", r));
  const base = `http://${addr}`;
  const deadline = Date.now() + waitTimeout;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`herald serve exited with ${p.exitCode}:\n${stderr}`);
    try {
      const r = await fetch(base + "/healthz");
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`herald serve did not answer /healthz within ${waitTimeout}ms:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    base,
    port,
    get stderr() {
      return stderr;
    },
    /** api calls the server HTTP API and returns its JSON answer. */
    async api(method, body = {}) {
      const r = await fetch(`${base}/api/${method}`, {
        method: "POST",
        headers: { Authorization: `apikey ${apiKey}` },
        body: JSON.stringify(body),
      });
      return r.json();
    },
    /** stop shuts the server down as an operator does (SIGTERM): clients get 4000 shutdown. */
    async stop() {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
      await exited;
    },
    /** kill stops the server at once (SIGKILL): no disconnect push, no close frame. */
    async kill() {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      await exited;
    },
  };
}

/** until waits for cond() to hold, polling, up to waitTimeout. */
export async function until(cond, what) {
  const deadline = Date.now() + waitTimeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** next resolves with the next event of that name on target. */
export function next(target, event, pred = () => true) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} event within ${waitTimeout}ms`)), waitTimeout);
    const h = (e) => {
      if (!pred(e)) return;
      clearTimeout(t);
      target.off(event, h);
      resolve(e);
    };
    target.on(event, h);
  });
}

/** hs256 mints a token as an application backend would. */
export function hs256(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = b64({ alg: "HS256", typ: "JWT" }) + "." + b64(claims);
  return head + "." + createHmac("sha256", secret).update(head).digest("base64url");
}
