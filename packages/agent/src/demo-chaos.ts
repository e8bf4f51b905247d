/**
 * `grapevine demo --chaos`: after the narrated run, keep going and, every `interval` ms, do one
 * thing to one node (never the observer, whose dashboard is being watched), in a fixed rotation so
 * a viewer sees every kind of event within a few minutes:
 *   pause   it stops answering until another node suspects it (at most PAUSE_MAX_MS), then for
 *           PAUSE_AFTER_SUSPECT_MS more, and comes back before the suspicion times out (4 s at
 *           least with the 'lan' timing): it refutes it with a higher incarnation;
 *   kill    a crash (close without leave): suspected, declared dead; RESTART_AFTER_MS later it
 *           restarts under the same name (a new instance) and rejoins;
 *   freeze  it stops answering until the others declare it dead, then resumes: it learns it was
 *           declared dead and refutes that too, rejoining at a higher incarnation.
 * Every wait is bounded (CHAOS_WAIT_MS); a wait that runs out is narrated and the rotation goes on.
 * Ctrl-C (the interrupt signal) ends it between or inside steps.
 */
import type { Cluster } from '@grapevine/core';
import type { DemoNode } from './demo-nodes.js';

export const PAUSE_MAX_MS = 10_000;
export const PAUSE_AFTER_SUSPECT_MS = 1000;
export const RESTART_AFTER_MS = 3000;
export const CHAOS_WAIT_MS = 60_000;

export interface ChaosContext {
  observer: string;
  live: Map<string, DemoNode>;
  names: readonly string[];
  out(line: string): void;
  /** Sleep; rejects when interrupted. */
  pause(ms: number): Promise<void>;
  /** Resolves true once `check` holds, false after `timeoutMs`; rejects when interrupted. */
  until(check: () => boolean, timeoutMs: number): Promise<boolean>;
  restart(name: string): Promise<DemoNode>;
  kill(name: string): Promise<void>;
}

type Action = 'pause' | 'kill' | 'freeze';
const ROTATION: readonly Action[] = ['pause', 'kill', 'freeze'];

export async function runChaos(ctx: ChaosContext, intervalMs: number): Promise<never> {
  const victims = ctx.names.filter((n) => n !== ctx.observer);
  const others = (victim: string): Cluster[] => [...ctx.live.values()].filter((n) => n.name !== victim && !n.transport.paused).map((n) => n.cluster);
  const anySees = (victim: string, states: string[]): boolean => others(victim).some((c) => states.includes(c.member(victim)?.state ?? ''));
  const allSee = (victim: string, states: string[]): boolean => others(victim).every((c) => states.includes(c.member(victim)?.state ?? ''));
  const incarnation = (victim: string): number => ctx.live.get(ctx.observer)?.cluster.member(victim)?.incarnation ?? 0;
  const waited = async (ok: boolean, what: string): Promise<void> => {
    if (!ok) ctx.out(`(no ${what} within ${CHAOS_WAIT_MS / 1000} s; moving on)`);
  };
  ctx.out(`chaos: every ${intervalMs / 1000} s one node is paused, killed or frozen in turn; Ctrl-C ends it`);
  for (let step = 0; ; step++) {
    await ctx.pause(intervalMs);
    const action = ROTATION[step % ROTATION.length]!;
    const victim = victims[Math.floor(step / ROTATION.length) % victims.length]!;
    const node = ctx.live.get(victim);
    if (!node) continue;
    const t0 = Date.now();
    const since = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    if (action === 'pause') {
      ctx.out(`chaos: pausing ${victim} (it stops answering, as a stalled process would) until someone suspects it`);
      const inc = incarnation(victim);
      node.transport.paused = true;
      const suspected = await ctx.until(() => anySees(victim, ['suspect', 'dead']), PAUSE_MAX_MS);
      if (suspected) {
        ctx.out(`chaos: ${victim} is SUSPECT after ${since()}; it answers again in ${PAUSE_AFTER_SUSPECT_MS / 1000} s`);
        await ctx.pause(PAUSE_AFTER_SUSPECT_MS);
      }
      node.transport.paused = false;
      if (!suspected) {
        ctx.out(`chaos: nobody suspected ${victim} within ${PAUSE_MAX_MS / 1000} s; it answers again`);
        continue;
      }
      ctx.out(`chaos: ${victim} answers again after ${since()}`);
      const refuted = await ctx.until(() => allSee(victim, ['alive']) && incarnation(victim) > inc, CHAOS_WAIT_MS);
      await waited(refuted, `refutation by ${victim}`);
      if (refuted) ctx.out(`chaos: ${victim} refuted the suspicion (incarnation ${inc} → ${incarnation(victim)}), ${since()} after the pause began`);
    } else if (action === 'kill') {
      ctx.out(`chaos: killing ${victim} (a crash: no leave)`);
      await ctx.kill(victim);
      await waited(await ctx.until(() => anySees(victim, ['suspect', 'dead']), CHAOS_WAIT_MS), `suspicion of ${victim}`);
      ctx.out(`chaos: ${victim} is suspected after ${since()}`);
      await waited(await ctx.until(() => allSee(victim, ['dead', 'left']), CHAOS_WAIT_MS), `death of ${victim}`);
      ctx.out(`chaos: every node sees ${victim} DEAD, ${since()} after the crash; restarting it in ${RESTART_AFTER_MS / 1000} s`);
      await ctx.pause(RESTART_AFTER_MS);
      const again = await ctx.restart(victim);
      await waited(await ctx.until(() => allSee(victim, ['alive']), CHAOS_WAIT_MS), `rejoin of ${victim}`);
      ctx.out(`chaos: ${victim} restarted at ${again.cluster.localNode.address} and rejoined, ALIVE everywhere`);
    } else {
      ctx.out(`chaos: freezing ${victim} until the others declare it dead`);
      node.transport.paused = true;
      await waited(await ctx.until(() => allSee(victim, ['dead']), CHAOS_WAIT_MS), `death of ${victim}`);
      const inc = incarnation(victim);
      ctx.out(`chaos: every node sees ${victim} DEAD after ${since()}; it wakes up`);
      node.transport.paused = false;
      await waited(await ctx.until(() => allSee(victim, ['alive']), CHAOS_WAIT_MS), `refutation by ${victim}`);
      if (allSee(victim, ['alive'])) ctx.out(`chaos: ${victim} refuted its death and rejoined (incarnation ${inc} → ${incarnation(victim)})`);
    }
  }
}
