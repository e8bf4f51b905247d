export { TcpTransport, type TcpTransportOptions, type TcpTransportStats } from './tcp-transport.js';
export { FrameDecoder, FRAME_HEADER_BYTES, MAX_BLOCK_BYTES, MIN_BLOCK_BYTES, encodeFrameHeader } from './frame-decoder.js';
