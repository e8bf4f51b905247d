export { createMsgpackCodec, msgpackCodec, type MsgpackCodecOptions } from './msgpack.js';
