// build-shared.mjs builds shared mode (src/shared/) after build.mjs:
//   dist/shared.js                 ESM, `@heraldrt/client/shared`
//   dist/herald-shared.min.js      the same for a <script> tag after herald.min.js
//   dist/herald-shared-worker.min.js  the SharedWorker itself (a whole client)
// and the fallback transports add-on (src/fallback/) the same way:
//   dist/fallback.js               ESM, `@heraldrt/client/fallback`
//   dist/herald-fallback.min.js    for a <script> tag after herald.min.js
// The tab side must extend the Client that the page already has, not a
// copy of it: its imports of the core resolve to dist/index.js (ESM) or to
// the global Herald (script tag).
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

process.chdir(join(dirname(fileURLToPath(import.meta.url)), ".."));

const core = /^\.\.\/(client|errors)\.js$/;
const toIndex = {
  name: "core-from-index",
  setup(b) {
    b.onResolve({ filter: core }, () => ({ path: "./index.js", external: true }));
  },
};
const toGlobal = {
  name: "core-from-global",
  setup(b) {
    b.onResolve({ filter: core }, (a) => ({ path: a.path, namespace: "herald-global" }));
    b.onLoad({ filter: /.*/, namespace: "herald-global" }, () => ({
      contents:
        'const H = globalThis.Herald; if (!H) throw new Error("herald: load herald.min.js before herald-shared.min.js");\n' +
        "export const { Client, HeraldError, GapError, TokenError, RefreshError, ClientCode, clientReasons } = H;",
      loader: "js",
    }));
  },
};

const common = { bundle: true, target: "es2020", logLevel: "warning", legalComments: "none", platform: "browser" };
await build({ ...common, entryPoints: ["src/shared/index.ts"], format: "esm", outfile: "dist/shared.js", plugins: [toIndex] });
await build({
  ...common,
  entryPoints: ["src/shared/index.ts"],
  format: "iife",
  minify: true,
  outfile: "dist/herald-shared.min.js",
  plugins: [toGlobal],
});
await build({ ...common, entryPoints: ["src/shared/worker.ts"], format: "iife", minify: true, outfile: "dist/herald-shared-worker.min.js" });
await build({ ...common, entryPoints: ["src/fallback/index.ts"], format: "esm", outfile: "dist/fallback.js", plugins: [toIndex] });
await build({
  ...common,
  entryPoints: ["src/fallback/index.ts"],
  format: "iife",
  minify: true,
  outfile: "dist/herald-fallback.min.js",
  plugins: [toGlobal],
});
