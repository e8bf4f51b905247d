export { DEFAULT_COMPRESS_THRESHOLD, SNAPPY_MAX_LENGTH, readSnappyLength, snappyCompressor } from './snappy.js';
