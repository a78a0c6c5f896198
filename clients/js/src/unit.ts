// unit.ts exposes the client's pure helpers to its unit tests; the build
// bundles it as dist/unit.js, which is not part of the package's API.
export { backoff, refreshDelay, retryAfterMs } from "./backoff.js";
export { batch, decodeFrame, utf8Length } from "./codec.js";
export { place } from "./position.js";
export { endpointURL, historyURL } from "./url.js";
