import type { Position } from "./types.js";

/** What to do with a live publication (docs/client-spec.md, "Live publications"). */
export interface Placement {
  /** false: a duplicate, drop it. */
  deliver: boolean;
  /** Set when publications are missing before this one: the offset that should have come. */
  gap?: number;
  /** The position after it. */
  pos?: Position;
}

/**
 * place applies the duplicate and gap rules to a publication with an
 * offset, given the subscription's position (the last publication handed
 * to the application).
 */
export function place(pos: Position | undefined, offset: number, epoch: string | undefined): Placement {
  if (!pos) return { deliver: true, pos: { offset, epoch: epoch || "" } };
  if (!epoch || epoch === pos.epoch) {
    if (offset <= pos.offset) return { deliver: false, pos };
    const next = { offset, epoch: pos.epoch };
    return offset > pos.offset + 1 ? { deliver: true, gap: pos.offset + 1, pos: next } : { deliver: true, pos: next };
  }
  // Another epoch: the history started over.
  const next = { offset, epoch };
  return offset > 1 ? { deliver: true, gap: 1, pos: next } : { deliver: true, pos: next };
}
