// build.mjs builds dist/: the ESM module (dist/index.js), the minified
// browser bundle exposing the global Herald (dist/herald.min.js), and the
// type definitions (tsc, declarations only).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
rmSync("dist", { recursive: true, force: true });

// The client's internal members, renamed to short names in both builds so
// that the browser bundle stays small. Only names that are never a wire
// key, an option (clock, random), a public member or a built-in's method (push, send, call,
// end, write) may be listed: the tests run the renamed builds.
const internal = [
  "conn", "url", "WS", "running", "loop", "attempt", "retryTimer", "offline",
  "waitingOnline", "dialing", "lastConnected", "readyWaiters", "waiting", "subs", "nextId", "events", "stopped",
  "command", "emit", "drain", "emitError", "setState", "dial", "sendConnect", "onConnectReply",
  "watchPings", "onFrame", "handle", "badMessage", "onClose", "lose", "stop", "retry", "onOffline",
  "onOnline", "listenNetwork", "scheduleRefresh", "after", "cancel", "take", "flush", "out", "flushing",
  "pending", "timers", "readTimeout", "connectTimer", "retried118", "sendNow", "onWriteError", "wanted",
  "gen", "tempErrors", "waiters", "opts", "again", "onReply", "onPub", "lost", "handlers", "fire",
  "tlist", "tx", "sid", "tok", "posting", "es", "base", "frame", "post",
];
const common = {
  bundle: true,
  target: "es2020",
  logLevel: "warning",
  legalComments: "none",
  mangleProps: new RegExp(`^(${internal.join("|")})$`),
};
await build({ ...common, entryPoints: ["src/index.ts"], format: "esm", outfile: "dist/index.js", platform: "neutral" });
// The pure helpers, for the unit tests only.
await build({ ...common, entryPoints: ["src/unit.ts"], format: "esm", outfile: "dist/unit.js", platform: "neutral" });
await build({
  ...common,
  entryPoints: ["src/index.ts"],
  format: "iife",
  globalName: "Herald",
  minify: true,
  outfile: "dist/herald.min.js",
  platform: "browser",
});
execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { stdio: "inherit" });
