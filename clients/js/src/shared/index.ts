/**
 * `@heraldrt/client/shared`: importing it turns on `shared: true` (one
 * WebSocket for all tabs of an origin, through a SharedWorker). It is a
 * module of its own so that pages that do not share pay nothing for it;
 * in a page without a bundler, load herald-shared.min.js after
 * herald.min.js. See tab.ts and worker.ts.
 */
export { SharedClient, SharedSubscription } from "./tab.js";
