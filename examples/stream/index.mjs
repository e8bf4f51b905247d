// Streams: a node opens a byte stream to another (openStream / handleStream) and sends a 20 MB
// "file" through stream.pipeline(), with a SHA-256 checksum the receiver verifies and answers on
// the same stream. A second transfer goes to a receiver that pauses, to show backpressure: the
// sender stops after about one flow-control window instead of buffering the whole file.
// Run from the repository root:
//   node examples/stream/index.mjs
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import { createCluster } from '@grapevine/node';

const FILE = 300; // stream type: a file upload
const SIZE = 20 * 1024 * 1024;
const CHUNK = 64 * 1024;
const MB = 1024 * 1024;
const mb = (n) => (n / MB).toFixed(1);

const opts = { bind: '127.0.0.1:0', profile: 'fast' };
const sender = await createCluster({ ...opts, name: 'sender' });
const receiver = await createCluster({ ...opts, name: 'receiver', join: sender.localNode.address });
const windowBytes = receiver.config.streamWindowBytes;
console.log(`two nodes up; stream flow-control window ${mb(windowBytes)} MB`);

// The receiving side. Each accepted stream is a Node Duplex: read the upload, hash it, then write
// the verdict back on the same stream and end it (the opener half-closed its side already).
// allowHalfOpen keeps our side open after the upload's end was read, for that answer; without it a
// stream ends its side as soon as it read the peer's end (as a net.Socket does by default).
let pauseFirstWrite = 0; // ms the sink stalls on its first chunk (the backpressure run sets it)
let pulledFromSource = 0; // bytes the sender's pipeline has taken from its source so far
receiver.handleStream(FILE, (stream) => {
  const { name, size, sha256 } = stream.header;
  const hash = createHash('sha256');
  let bytes = 0;
  let paused = false;
  const sink = new Writable({
    write(chunk, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (pauseFirstWrite > 0 && !paused) {
        // A slow disk, say. Until done() runs, the sink takes nothing more; the stream stops
        // granting window to the sender, and the sender's pipeline stops pulling from its source.
        paused = true;
        setTimeout(() => {
          console.log(`  receiver paused ${pauseFirstWrite} ms; meanwhile the sender pulled ${mb(pulledFromSource)} of ${mb(SIZE)} MB from its source`);
          done();
        }, pauseFirstWrite);
        return;
      }
      done();
    },
  });
  pipeline(stream, sink).then(
    () => {
      const got = hash.digest('hex');
      const ok = got === sha256 && bytes === size;
      console.log(`  receiver got ${name}: ${mb(bytes)} MB, sha256 ${got.slice(0, 16)}… ${ok ? 'matches' : 'DOES NOT MATCH'} the header`);
      stream.end(JSON.stringify({ ok, bytes, sha256: got }));
    },
    (err) => console.log(`  receiver: upload failed: ${err.code ?? err.message}`),
  );
}, { allowHalfOpen: true });

// The sending side: a 20 MB random buffer stands in for a file on disk.
const data = randomBytes(SIZE);
const sha256 = createHash('sha256').update(data).digest('hex');

/** The source: the file in CHUNK-sized pieces, pulled by pipeline() only as fast as the stream takes them. */
function source() {
  pulledFromSource = 0;
  return Readable.from((function* () {
    for (let off = 0; off < SIZE; off += CHUNK) {
      const piece = data.subarray(off, Math.min(off + CHUNK, SIZE));
      pulledFromSource += piece.length;
      yield piece;
    }
  })());
}

async function upload(name) {
  const started = performance.now();
  const stream = await sender.openStream('receiver', FILE, { name, size: SIZE, sha256 });
  // pipeline() writes while write() returns true and waits for 'drain' when it returns false:
  // that wait is where the receiver's window reaches back to the sender. It also ends the
  // stream (half-close) when the source is done, and destroys both on any error.
  await pipeline(source(), stream);
  const answer = JSON.parse(await text(stream)); // the receiver's verdict, then its end
  const seconds = (performance.now() - started) / 1000;
  return { answer, seconds };
}

console.log(`\n1. upload ${mb(SIZE)} MB (sha256 ${sha256.slice(0, 16)}…)`);
const fast = await upload('data.bin');
console.log(`  sender: verdict ok=${fast.answer.ok}; ${mb(SIZE)} MB in ${fast.seconds.toFixed(2)} s = ${(SIZE / MB / fast.seconds).toFixed(0)} MB/s`);

console.log('\n2. upload again to a receiver that pauses for 1 s');
pauseFirstWrite = 1000;
const slow = await upload('data-2.bin');
console.log(`  sender: verdict ok=${slow.answer.ok}; took ${slow.seconds.toFixed(2)} s (the 1 s pause included)`);

await receiver.leave();
await sender.leave();
console.log('\ndone');
