/**
 * Resolve after the host's next macrotask turn. By then every microtask queued before the call —
 * and every microtask those queue, however deep the promise chain — has run. A bare `await` only
 * runs one more microtask hop, so it cannot guarantee that.
 *
 * setImmediate (Node, Bun, Deno) costs about a microsecond. Browsers lack it; a MessageChannel is
 * used there because setTimeout(0) is clamped to 4 ms once nested.
 */
type Schedule = (fn: () => void) => unknown;
interface Port {
  onmessage: ((ev: unknown) => void) | null;
  postMessage(value: unknown): void;
}
type MessageChannelCtor = new () => { port1: Port; port2: Port };

const host = globalThis as { setImmediate?: Schedule; MessageChannel?: MessageChannelCtor };

function viaMessageChannel(MC: MessageChannelCtor): () => Promise<void> {
  let channel: { port1: Port; port2: Port } | undefined;
  const waiting: (() => void)[] = [];
  return () =>
    new Promise<void>((resolve) => {
      if (channel === undefined) {
        channel = new MC();
        channel.port1.onmessage = () => waiting.shift()?.();
      }
      waiting.push(resolve);
      channel.port2.postMessage(0);
    });
}

export const nextMacrotask: () => Promise<void> =
  host.setImmediate !== undefined
    ? ((si: Schedule) => () => new Promise<void>((resolve) => si(resolve)))(host.setImmediate)
    : host.MessageChannel !== undefined
      ? viaMessageChannel(host.MessageChannel)
      : () => new Promise<void>((resolve) => setTimeout(resolve, 0));
