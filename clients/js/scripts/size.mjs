// size.mjs measures the browser bundle as a page downloads it, minified
// and gzipped, and fails above the limit the README promises.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const limit = 8 * 1024;
const file = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "herald.min.js");
const raw = readFileSync(file);
const gz = gzipSync(raw, { level: 9 }).length;
console.log(`dist/herald.min.js: ${raw.length} bytes minified, ${gz} bytes gzipped (limit ${limit})`);
if (gz > limit) {
  console.error(`size: the bundle is ${gz - limit} bytes over the ${limit}-byte limit`);
  process.exit(1);
}
