/**
 * The incarnation ceiling. Incarnations travel as plain numbers and must stay exact integers, so
 * a claim near Number.MAX_SAFE_INTEGER would leave its subject no higher number to refute with: one
 * forged `dead` at 2^53 − 1 would keep a live member dead for good. Two rules close that:
 *
 * - every claim (alive, suspect, dead, push-pull state) whose incarnation is above
 *   `limits.maxIncarnation` is refused and counted, so no message can put a member past the ceiling;
 * - a node whose own incarnation would have to pass the ceiling (to refute a claim at the ceiling,
 *   or to announce new metadata there) reincarnates instead: it takes a new, larger instance id and
 *   starts again at incarnation 0. A larger instance replaces the old record everywhere whatever
 *   the incarnations (that is how a restarted process retires its old self), so the refutation is
 *   always representable and always accepted.
 */
import { randomInt, type Random } from '../random.js';

/** The default ceiling: 2^48, far below 2^53 and far above anything a node reaches by itself. */
export const DEFAULT_MAX_INCARNATION = 2 ** 48;

/** Largest usable ceiling: leaves every value up to it exactly representable, and one above it. */
export const MAX_INCARNATION_CEILING = Number.MAX_SAFE_INTEGER - 1;

/** Instance ids are start time (ms) × 4096 plus 12 random bits. */
export function freshInstance(now: number, random: Random): number {
  return Math.floor(now) * 4096 + randomInt(random, 4096);
}

/** An instance id larger than `current`, for a node that reincarnates. */
export function nextInstance(current: number, now: number, random: Random): number {
  return Math.max(current + 1, freshInstance(now, random));
}

/**
 * The incarnation a node announces after hearing a claim at `claimed` about itself, or null when
 * that would pass the ceiling (the node must reincarnate).
 */
export function refutingIncarnation(own: number, claimed: number, ceiling: number): number | null {
  const next = Math.max(own, claimed) + 1;
  return next > ceiling ? null : next;
}
