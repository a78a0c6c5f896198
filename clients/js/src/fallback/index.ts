/**
 * @heraldrt/client/fallback adds the HTTP fallback transports, "sse" and
 * "http_stream", to the Client (see ClientOptions.transports): import it
 * once, before making a Client, or load herald-fallback.min.js after
 * herald.min.js. It is an add-on so that pages whose users can always
 * upgrade do not download it.
 */
import { Client } from "../client.js";
import { HTTPStream } from "./stream.js";

Client.streams = (url, t) => new HTTPStream(url, t);
