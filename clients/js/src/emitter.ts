/**
 * Emitter is a minimal typed event emitter. A handler that throws does not
 * stop the others or the client: the error is reported on the console,
 * because the client's own state must not depend on application code.
 */
export class Emitter<E extends Record<string, unknown>> {
  private handlers: { [K in keyof E]?: ((e: E[K]) => void)[] } = {};

  on<K extends keyof E>(event: K, handler: (e: E[K]) => void): this {
    (this.handlers[event] ||= []).push(handler);
    return this;
  }

  off<K extends keyof E>(event: K, handler: (e: E[K]) => void): this {
    const hs = this.handlers[event];
    if (hs) this.handlers[event] = hs.filter((h) => h !== handler);
    return this;
  }

  /** @internal */
  fire<K extends keyof E>(event: K, e: E[K]): void {
    for (const h of this.handlers[event] || []) {
      try {
        h(e);
      } catch (err) {
        console.error("herald: an event handler threw", err);
      }
    }
  }
}
