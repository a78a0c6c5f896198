import type { Clock } from "./types.js";

/** A promise waiting for a state, settled by whoever reaches it. */
export interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

/** timeoutError is what a wait bounded by a timeout rejects with. */
export function timeoutError(): Error {
  const e = new Error("herald: timed out");
  e.name = "TimeoutError";
  return e;
}

/**
 * wait adds a waiter to list and returns its promise; with timeoutMs it
 * leaves the list and rejects with a TimeoutError when the time is up.
 */
export function wait<T>(list: Waiter<T>[], clock: Clock, timeoutMs?: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const w: Waiter<T> = { resolve, reject };
    list.push(w);
    if (timeoutMs === undefined) return;
    const t = clock.setTimeout(() => {
      const i = list.indexOf(w);
      if (i >= 0) list.splice(i, 1);
      reject(timeoutError());
    }, timeoutMs);
    w.resolve = (v) => (clock.clearTimeout(t), resolve(v));
    w.reject = (e) => (clock.clearTimeout(t), reject(e));
  });
}
