/**
 * Why a join failed, in words a newcomer can act on. Each seed's error keeps its typed code; the
 * join's error lists them, and for a seed that never answered says what that can mean — with
 * encryption or a cluster label, a node with another key or label drops our messages without a
 * word, so a wrong key or label looks exactly like a seed that is not there.
 */
import { GrapevineError, JoinError, type ErrorCode, type JoinFailure } from '../errors.js';

/** Codes that retrying the same seed cannot change: the seed answered, and said no. */
const FINAL: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_INCOMPATIBLE', 'ERR_WRONG_PATH', 'ERR_UNAUTHORIZED', 'ERR_NAME_TAKEN']);

export interface JoinContext {
  /** This node's cluster label, if any. */
  label: string | undefined;
  /** True when this node seals its messages. */
  encrypted: boolean;
}

/** True when every seed refused in a way a retry cannot change. */
export function allFinal(errors: readonly unknown[]): boolean {
  return errors.length > 0 && errors.every((e) => e instanceof GrapevineError && FINAL.has(e.code));
}

/** What "no answer" can mean for this node. */
function silenceHint(ctx: JoinContext): string {
  const ours = [ctx.encrypted ? 'encrypts its messages' : '', ctx.label !== undefined ? `uses cluster label ${JSON.stringify(ctx.label)}` : ''].filter((s) => s !== '').join(' and ');
  if (ours !== '') {
    return `this node ${ours}: a seed with another key or label drops our messages without a word, so a wrong key or label looks exactly like this; else nothing listens there or a firewall drops the traffic`;
  }
  return 'nothing listens there, a firewall drops the traffic, or the seed encrypts or uses a cluster label (it then drops our plain messages without a word)';
}

/** The error a failed join rejects with: one reason per seed, the shared code when they agree. */
export function joinError(targets: readonly string[], errors: readonly unknown[], ctx: JoinContext): JoinError {
  const failures: JoinFailure[] = targets.map((seed, i) => {
    const e = errors[i];
    const error = e instanceof GrapevineError ? e : new GrapevineError('ERR_UNREACHABLE', e instanceof Error ? e.message : String(e), { cause: e });
    return { seed, error };
  });
  const reasons = failures.map((f) => (f.error.code === 'ERR_TIMEOUT' ? `${f.error.message} (${silenceHint(ctx)})` : f.error.message));
  const codes = new Set(failures.map((f) => f.error.code));
  if (allFinal(errors) && codes.size === 1) {
    const code = failures[0]!.error.code;
    const lead = code === 'ERR_INCOMPATIBLE' ? 'refused by every seed' : 'could not join';
    return new JoinError(code, `${lead}: ${reasons.join('; ')}`, failures);
  }
  return new JoinError('ERR_JOIN_FAILED', `could not join any of ${targets.join(', ')}: ${reasons.join('; ')}`, failures);
}
