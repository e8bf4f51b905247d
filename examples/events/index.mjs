// Member events, two ways: callbacks with on(), and an async iterator with watch() that stops when
// its AbortSignal fires. Four nodes; one crashes (close() without a word: seen as suspect, then
// dead) and one leaves gracefully (seen as left at once). Run from the repository root:
//   node examples/events/index.mjs
import { createCluster } from '@grapevine/node';

const t0 = Date.now();
const stamp = () => `+${String(Date.now() - t0).padStart(4)}ms`;
const describe = (e) => `${e.type.padEnd(7)} ${e.member.name}${e.previous ? ` (was ${e.previous})` : ''} incarnation=${e.member.incarnation}`;

async function waitFor(what, pred, ms = 8000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The 'fast' profile (300 ms probes, short suspicion) turns a crash into "dead" within a couple of
// seconds; the default 'lan' profile takes several seconds more, as memberlist's does.
const opts = { bind: '127.0.0.1:0', profile: 'fast' };
const alpha = await createCluster({ ...opts, name: 'alpha' });

// 1. Callbacks. Registered before anyone joins, so alpha reports every member that arrives.
for (const type of ['alive', 'suspect', 'dead', 'left', 'updated']) {
  alpha.on(type, (e) => console.log(`${stamp()} [on alpha]    ${describe(e)}`));
}

const seed = alpha.localNode.address;
const bravo = await createCluster({ ...opts, name: 'bravo', join: seed });

// 2. An async iterator. The AbortController ends the loop when the demo is over; without a
// signal the loop would run until bravo closes.
const stopWatching = new AbortController();
const watching = (async () => {
  for await (const e of bravo.watch({ signal: stopWatching.signal })) {
    console.log(`${stamp()} [watch bravo] ${describe(e)}`);
  }
  console.log(`${stamp()} [watch bravo] iterator ended (signal aborted)`);
})();

const charlie = await createCluster({ ...opts, name: 'charlie', join: seed });
const delta = await createCluster({ ...opts, name: 'delta', join: seed });
await waitFor('4 alive members everywhere', () => [alpha, bravo, charlie, delta].every((n) => n.members({ state: 'alive' }).length === 4));
console.log(`${stamp()} all four nodes see each other`);

// Metadata changes spread with the node's next incarnation and raise 'updated'.
delta.updateMeta({ version: '2' });
await waitFor('delta\'s new metadata', () => alpha.member('delta')?.meta.version === '2' && bravo.member('delta')?.meta.version === '2');

// A crash: close() stops charlie's sockets without telling anyone. The others notice missed
// probes, suspect it, and declare it dead when the suspicion timeout runs out unrefuted.
console.log(`${stamp()} charlie crashes (close() without leaving)`);
await charlie.close();
await waitFor('charlie to be declared dead', () => alpha.member('charlie')?.state === 'dead' && bravo.member('charlie')?.state === 'dead');

// A graceful leave: delta announces it, so the others record "left" without any suspicion.
console.log(`${stamp()} delta leaves gracefully`);
await delta.leave();
await waitFor('delta to be seen as left', () => alpha.member('delta')?.state === 'left' && bravo.member('delta')?.state === 'left');

stopWatching.abort();
await watching;
await bravo.leave();
await alpha.leave();
console.log(`${stamp()} done`);
