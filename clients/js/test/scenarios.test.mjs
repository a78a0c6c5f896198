// The shared client scenarios (clients/scenarios/*.json), run against the
// TypeScript client; clients/go runs the same files against the Go client.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as esm from "../dist/index.js";
import { expand, run } from "./lib/scenario.mjs";

const here = dirname(fileURLToPath(import.meta.url));
// The browser bundle too, as a page loads it: a script defining the global Herald.
const iife = new Function(readFileSync(join(here, "..", "dist", "herald.min.js"), "utf8") + ";return Herald;")();

const dir = join(here, "..", "..", "scenarios");
for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
  const sc = JSON.parse(readFileSync(join(dir, f), "utf8"));
  for (const one of expand(sc)) {
    test(`${f}: ${one.name}`, () => run(one, esm));
    test(`${f} (herald.min.js): ${one.name}`, () => run(one, iife));
  }
}
