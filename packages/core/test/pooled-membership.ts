/**
 * A member table for tests of storage (string pool, shared identities): node `self{i}` at `s{i}:1`
 * on the lan profile, with hooks that do nothing, sharing `pool` when one is given.
 */
import { Membership, profiles } from '@grapevine/core';
import type { ManualClock } from './fake-clock.js';
import type { StringPool } from '../src/protocol/string-pool.js';

export const quietHooks = { disseminate: () => {}, emit: () => {}, selfAccused: () => {}, added: () => {}, log: () => {}, count: () => {}, compatible: () => true };

export function pooledMembership(i: number, clock: ManualClock, pool?: StringPool): Membership {
  return new Membership(
    { name: `self${i}`, address: `s${i}:1`, incarnation: 0, instance: 1, meta: {}, metaVersion: 1, protocol: 1, appVersion: '' },
    profiles.lan, clock, quietHooks, pool,
  );
}
