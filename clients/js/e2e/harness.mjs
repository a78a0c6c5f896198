// harness.mjs starts the real parts of the browser end-to-end tests: the
// herald binary (built here with `go build`, served on a free loopback
// port) and Debian's Chromium through playwright-core (it cannot download
// a browser of its own). Conditions are waited for with generous
// deadlines, never by sleeping, so that a loaded machine is slow, not red.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const API_KEY = "e2e-secret";
/** The deadline of every wait: long, because a shared CI machine may be slow. */
export const WAIT = 30_000;

/** buildHerald builds the server from this checkout into a temporary directory. */
export function buildHerald() {
  const dir = mkdtempSync(join(tmpdir(), "herald-e2e-"));
  const bin = join(dir, "herald");
  execFileSync("go", ["build", "-o", bin, "./cmd/herald"], { cwd: repo, stdio: "inherit" });
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** freePort returns a loopback port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Herald is one `herald serve --dev` process on a fixed port, so that it
 * can be killed and started again where the pages reconnect.
 */
export class Herald {
  constructor(bin, port) {
    this.bin = bin;
    this.base = `http://127.0.0.1:${port}`;
    this.port = port;
    this.proc = null;
    this.log = "";
  }

  async start() {
    const p = spawn(this.bin, ["serve", "--dev", "--listen", `127.0.0.1:${this.port}`, "--api-key", API_KEY, "--log-level", "warn"], {
      stdio: ["ignore", "ignore", "pipe"],
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HERALD_"))),
    });
    p.stderr.on("data", (b) => (this.log += b));
    this.proc = p;
    this.exited = new Promise((resolve) => p.on("exit", resolve));
    await waitUntil("herald to answer /healthz", async () => {
      if (p.exitCode !== null) throw new Error(`herald exited (${p.exitCode}):\n${this.log}`);
      try {
        return (await fetch(this.base + "/healthz")).ok;
      } catch {
        return false;
      }
    });
  }

  /** kill ends the server at once (SIGKILL): no drain, no goodbye to the clients. */
  async kill() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill("SIGKILL");
    await this.exited;
  }

  /** api calls the server HTTP API. */
  async api(method, body = {}) {
    const res = await fetch(`${this.base}/api/${method}`, {
      method: "POST",
      headers: { Authorization: `apikey ${API_KEY}` },
      body: JSON.stringify(body),
    });
    const out = await res.json();
    if (!res.ok) throw new Error(`api ${method}: ${res.status} ${JSON.stringify(out)}`);
    return out;
  }

  /** info is the one node's counts: num_clients, num_subscriptions... */
  async info() {
    return (await this.api("info")).nodes[0];
  }
}

/** waitUntil polls cond (which may be async) until it is truthy, and returns that value. */
export async function waitUntil(what, cond, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      last = err;
      if (err instanceof Error && /exited/.test(err.message)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout}ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** launchChromium starts headless Debian Chromium with a fresh profile (playwright makes one per launch). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Page helpers, reading the demo's DOM. */
export const demo = {
  badge: (page) => page.locator("#badge").evaluate((b) => ({ ...b.dataset, text: b.textContent })),
  messages: (page) => page.locator("#messages li:not(.pending)").allTextContents(),
  online: (page) => page.locator("#online li").allTextContents(),
  typing: (page) => page.locator("#typing").textContent(),
  async send(page, text) {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  },
  /** waitFor polls one of the readers above until ok(value). */
  async waitFor(page, what, read, ok) {
    let seen;
    try {
      return await waitUntil(what, async () => ok((seen = await read(page))) && seen);
    } catch (err) {
      throw new Error(`${err.message} (last seen: ${JSON.stringify(seen)})`);
    }
  },
};
