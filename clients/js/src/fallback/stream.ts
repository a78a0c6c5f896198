import type { WebSocketLike } from "../types.js";

/**
 * HTTPStream is protocol v1 over the server's HTTP fallback transports
 * (docs/protocol.md, "HTTP fallback transports") behind the WebSocket
 * interface the connection uses: the server's frames on one long GET (an
 * EventSource for "sse", a streamed fetch for "http_stream"), the
 * client's as POSTs to /connection/emulation, one at a time so that they
 * arrive in order. Any end of the stream or refused POST is a close 1006
 * (a disconnect push that came first says why).
 */
export class HTTPStream implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private sid = "";
  private tok = "";
  private queue: string[] = [];
  private posting = false;
  private abort = new AbortController();
  private es?: EventSource;
  private base: string;

  constructor(ws: string, kind: string) {
    const u = new URL(ws);
    u.protocol = u.protocol === "wss:" ? "https:" : "http:";
    u.pathname = u.pathname.replace(/\/connection\/websocket$/, "");
    u.search = "";
    this.base = u.toString().replace(/\/$/, "");
    const url = `${this.base}/connection/${kind}`;
    if (kind === "sse") {
      const es = (this.es = new EventSource(url, { withCredentials: true }));
      es.addEventListener("session", (e) => this.open((e as MessageEvent).data));
      es.onmessage = (e) => this.frame(e.data);
      // EventSource would reconnect to a session that is gone: end instead.
      es.onerror = () => this.end(1006);
    } else this.read(url);
  }

  private async read(url: string): Promise<void> {
    try {
      const r = await fetch(url, { signal: this.abort.signal, credentials: "include" });
      const rd = r.ok && r.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      while (rd) {
        const { value, done } = await rd.read();
        if (done) break;
        const lines = (buf + value).split("\n");
        buf = lines.pop()!;
        for (const l of lines) if (l.trim()) this.readyState ? this.frame(l) : this.open(l);
      }
    } catch {
      // the stream broke: a lost connection
    }
    this.end(1006);
  }

  private open(preamble: string): void {
    const p = JSON.parse(preamble);
    this.sid = p.session;
    this.tok = p.token;
    this.readyState = 1;
    this.onopen?.({});
  }

  private frame(data: string): void {
    if (this.readyState === 1) this.onmessage?.({ data });
  }

  send(data: string): void {
    this.queue.push(data);
    this.post();
  }

  private async post(): Promise<void> {
    if (this.posting) return;
    this.posting = true;
    while (this.queue.length && this.readyState === 1) {
      const body = this.queue.splice(0).join("\n");
      const r = await fetch(this.base + "/connection/emulation", {
        method: "POST",
        credentials: "include",
        headers: { "Content-Type": "application/json", "Herald-Session": this.sid, "Herald-Token": this.tok },
        body,
      }).catch(() => null);
      if (!r?.ok) this.end(1006);
    }
    this.posting = false;
  }

  close(code = 1000, reason = ""): void {
    this.end(code, reason);
  }

  private end(code: number, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.es?.close();
    this.abort.abort();
    this.onclose?.({ code, reason });
  }
}
