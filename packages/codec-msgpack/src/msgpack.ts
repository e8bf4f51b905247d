import { Packr, Unpackr, type Options } from 'msgpackr';
import { GrapevineError, type ArrayFrame, type Codec } from '@grapevine/core';
import { peekMsgpackArray } from './peek.js';

const NOTHING = new Uint8Array(0);

export interface MsgpackCodecOptions {
  /**
   * Deepest nesting of arrays and maps a decoded value may have; deeper input is refused.
   * Protocol messages are a few levels deep. Default 64.
   */
  maxDepth?: number;
  /**
   * Copy binary (bin 8/16/32) values out of the input instead of returning views into it, so a
   * decoded message does not pin or alias the receive buffer. Default true.
   */
  copyBinary?: boolean;
}

/**
 * Standard MessagePack, readable by any other implementation:
 * - no msgpackr records/structures, no structured clone, no extra types; maps are plain objects;
 * - undefined properties are skipped and undefined array entries become nil (as JSON does);
 * - 64-bit integers decode as numbers (never BigInt); precision beyond 2^53 is lost;
 * - decode refuses trailing bytes, truncated input, length headers longer than the input, nesting
 *   deeper than maxDepth, and every value outside the protocol model that msgpackr's extensions
 *   would yield (undefined, BigInt, Date/timestamp, Set, RegExp, Error, typed arrays, 0xc1…): it
 *   returns only null, booleans, numbers, strings, Uint8Array, arrays and plain objects. (msgpackr
 *   still reads its own record extension, which only yields plain objects.) A map key
 *   "__proto__" is renamed "__proto_" by msgpackr, so a decoded map never changes a prototype.
 * - encode does not check its input: a Date is written as a timestamp, which decode refuses.
 * Every decode failure is a GrapevineError with code ERR_DECODE (cause: the underlying error).
 */
export function createMsgpackCodec(options: MsgpackCodecOptions = {}): Codec {
  const maxDepth = options.maxDepth ?? 64;
  if (!Number.isInteger(maxDepth) || maxDepth < 1) {
    throw new GrapevineError('ERR_INVALID_OPTION', `maxDepth must be a positive integer, got ${maxDepth}`);
  }
  // skipValues is a documented msgpackr option missing from its typings.
  const packOptions: Options & { skipValues: unknown[] } = {
    useRecords: false,
    structuredClone: false,
    moreTypes: false,
    bundleStrings: false,
    variableMapSize: true,
    encodeUndefinedAsNil: true,
    skipValues: [undefined],
  };
  const packr = new Packr(packOptions);
  const unpackr = new Unpackr({
    useRecords: false,
    mapsAsObjects: true,
    structuredClone: false,
    moreTypes: false,
    int64AsType: 'number',
    copyBuffers: options.copyBinary ?? true,
  });

  return {
    id: 2,
    name: 'msgpack',
    encode(value) {
      return packr.pack(value);
    },
    frameArray(head): ArrayFrame | undefined {
      // A msgpack array is its header (fixarray up to 15 elements: one byte, 0x90 | length) and then
      // its elements one after the other, so the last element's bytes end the message. Longer
      // heads (other header forms) are not framed.
      if (head.length + 1 > 15) return undefined;
      const h = packr.pack(head);
      // A copy: packr.pack returns a view of msgpackr's shared buffer.
      const before = Uint8Array.from(h);
      before[0] = 0x90 | (head.length + 1);
      return { before, after: NOTHING };
    },
    peekArray: peekMsgpackArray,
    decode(bytes) {
      // A fresh plain view: binary values come out as Uint8Array (not Buffer), and msgpackr's
      // cached DataView lands on this view rather than on the caller's object.
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let value: unknown;
      try {
        // Unpackr.unpack (not unpackMultiple) throws when bytes remain after the first value.
        value = unpackr.unpack(view);
      } catch (err) {
        throw new GrapevineError('ERR_DECODE', `msgpack: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
      checkValue(value, maxDepth);
      return value;
    },
  };
}

/** Throws unless value is made only of protocol types, no deeper than maxDepth containers. */
function checkValue(value: unknown, depthLeft: number): void {
  if (value === null) return;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return;
    case 'object':
      break;
    default:
      throw refuse(typeof value);
  }
  if (value instanceof Uint8Array) {
    if (value.constructor === Uint8Array) return;
    throw refuse(value.constructor.name);
  }
  if (depthLeft === 0) throw new GrapevineError('ERR_DECODE', 'msgpack: value nested too deeply');
  if (Array.isArray(value)) {
    for (const item of value) checkValue(item, depthLeft - 1);
    return;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    throw refuse((value as object).constructor?.name ?? 'object');
  }
  for (const key in value) checkValue((value as Record<string, unknown>)[key], depthLeft - 1);
}

function refuse(what: string): GrapevineError {
  return new GrapevineError('ERR_DECODE', `msgpack: unsupported value type ${what}`);
}

/** The msgpack codec (id 2) with default options. */
export const msgpackCodec: Codec = createMsgpackCodec();
