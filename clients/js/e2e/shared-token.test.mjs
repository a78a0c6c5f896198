// `shared: true` with tokens that only a tab can make: the worker holds
// no getToken of its own, so a subscription token for a channel that
// requires one must come from the tab that subscribes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { demo, heraldBin, serverAndBrowser, until } from "./harness.mjs";

const secret = "e2e-shared-token-secret-0123456789abcdef";
const env = serverAndBrowser(`
token:
  hmac_secret: ${secret}
namespaces:
  private:
    subscribe_access: token
    history_size: 10
    history_ttl: 1m
`);

/** subToken makes a subscription token as the application's backend would, with `herald token`. */
const subToken = (user, channel) =>
  execFileSync(heraldBin(), ["token", "--secret", secret, "--user", user, "--channel", channel], { encoding: "utf8" }).trim();

test("a subscription token is asked of the tab that subscribes, through the shared worker", async (t) => {
  const ctx = await env.context(t);
  const page = await ctx.newPage();
  await page.goto(`${env.herald.base}/?name=Dee`);
  await demo.waitFor(page, "connected", demo.badge, (b) => b.state === "connected");
  const user = await page.evaluate(() => localStorage.getItem("herald-demo-user"));
  const token = subToken(user, "private:plans");

  const got = await page.evaluate(async (token) => {
    const c = new Herald.Client(location.origin, { shared: true });
    c.connect();
    const asked = [];
    // Without a token the server refuses the channel.
    const bare = c.newSubscription("private:none");
    bare.subscribe();
    let refused;
    try {
      await bare.ready(20000);
    } catch (e) {
      refused = { code: e.code, state: bare.state };
    }
    const sub = c.newSubscription("private:plans", {
      getToken: async (channel) => (asked.push(channel), token),
    });
    window.plans = [];
    sub.on("publication", (p) => window.plans.push(p.data.text));
    sub.subscribe();
    const ev = await sub.ready(20000);
    return { refused, asked, recoverable: ev.recoverable };
  }, token);
  assert.equal(got.refused.state, "unsubscribed");
  assert.equal(got.refused.code, 103, `refused with ${got.refused.code}`);
  assert.deepEqual(got.asked, ["private:plans"]);
  assert.equal(got.recoverable, true);

  await env.herald.api("publish", { channel: "private:plans", data: { text: "for token holders" } });
  await until(() => page.evaluate(() => window.plans.includes("for token holders")), "the publication in the private channel");
});
