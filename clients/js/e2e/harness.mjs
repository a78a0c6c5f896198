// harness.mjs holds what the browser end-to-end tests share: the herald
// server (test/lib/herald.mjs builds and starts it; here it can be killed
// and started again on the same port, where the pages reconnect),
// Debian's Chromium through playwright-core (it cannot download a browser
// of its own), and readers of the demo page's DOM. Conditions are waited
// for with generous deadlines, never by sleeping.
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { apiKey, freePort, heraldBin, startHerald, until } from "../test/lib/herald.mjs";

export { apiKey, heraldBin, until };

/** Herald is one `herald serve --dev` (with config, YAML text, if given) on a port of its own, across restarts. */
export class Herald {
  constructor(port, config) {
    this.port = port;
    this.config = config;
    this.base = `http://127.0.0.1:${port}`;
    this.server = null;
  }

  async start() {
    this.server = await startHerald({ port: this.port, config: this.config });
  }

  /** kill ends the server at once (SIGKILL): no drain, no goodbye to the clients. */
  kill() {
    return this.server?.kill();
  }

  /** api calls the server HTTP API and fails on an error answer. */
  async api(method, body = {}) {
    const out = await this.server.api(method, body);
    if (out.error) throw new Error(`api ${method}: ${JSON.stringify(out.error)}`);
    return out;
  }

  /** info is the one node's counts: num_clients, num_subscriptions... */
  async info() {
    return (await this.api("info")).nodes[0];
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

/**
 * serverAndBrowser starts a server (with config) and a browser before the file's tests
 * and stops them after; the returned object holds them meanwhile.
 */
export function serverAndBrowser(config) {
  const env = {
    herald: null,
    browser: null,
    /** context opens a browser context (a fresh profile) that closes with test t, passed or failed. */
    async context(t, options) {
      const ctx = await env.browser.newContext(options);
      t.after(() => ctx.close());
      return ctx;
    },
  };
  before(async () => {
    env.herald = new Herald(await freePort(), config);
    await env.herald.start();
    env.browser = await launchChromium();
  });
  after(async () => {
    await env.browser?.close();
    await env.herald?.kill();
  });
  return env;
}

/** seen reads window.seen, where a test page records what its client did. */
export const seen = (page) => page.evaluate(() => window.seen);

/** waitSeen polls a test page's window.seen until ok(seen), and returns it. */
export async function waitSeen(page, what, ok) {
  let last;
  try {
    return await until(async () => ok((last = await seen(page))) && last, what);
  } catch (err) {
    throw new Error(`${err.message} (last seen: ${JSON.stringify(last)})`);
  }
}

/** has(text) is a test of a list of strings: one of them contains text. */
export const has = (text) => (list) => list.some((m) => m.includes(text));

/** Readers of the demo page's DOM. */
export const demo = {
  badge: (page) => page.locator("#badge").evaluate((b) => ({ ...b.dataset, text: b.textContent })),
  messages: (page) => page.locator("#messages li:not(.pending)").allTextContents(),
  online: (page) => page.locator("#online li").allTextContents(),
  typing: (page) => page.locator("#typing").textContent(),
  async send(page, text) {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  },
  /** waitFor polls one of the readers above until ok(value), and returns the value. */
  async waitFor(page, what, read, ok) {
    let seen;
    try {
      return await until(async () => ok((seen = await read(page))) && seen, what);
    } catch (err) {
      throw new Error(`${err.message} (last seen: ${JSON.stringify(seen)})`);
    }
  },
};
