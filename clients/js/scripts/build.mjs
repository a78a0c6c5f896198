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

const common = { bundle: true, target: "es2020", logLevel: "warning", legalComments: "none" };
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
