// The shared client scenarios (clients/scenarios/*.json), run against the
// TypeScript client; clients/go runs the same files against the Go client.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { expand, run } from "./lib/scenario.mjs";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scenarios");
for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
  const sc = JSON.parse(readFileSync(join(dir, f), "utf8"));
  for (const one of expand(sc)) test(`${f}: ${one.name}`, () => run(one));
}
