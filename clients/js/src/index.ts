/**
 * @heraldrt/client: the Herald client for browsers and Node. Start with
 * Client (client.ts); docs/client-spec.md is the behaviour it follows and
 * clients/js/README.md the API.
 */
export { Client, VERSION, type SharedFactory } from "./client.js";
export { Subscription } from "./subscription.js";
export { HeraldError, GapError, TokenError, RefreshError, ClientCode, clientReasons, codeName } from "./errors.js";
export { ErrorCode, DisconnectCode, disconnects, temporaryErrors } from "./codes.js";
export type * from "./types.js";
