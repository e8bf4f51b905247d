/** A live node under garbage, in the clear with snappy compression: the decoder and the decompressor face the input directly (fuzz-live-suite.ts). */
import { MODES, describeFuzzLive } from './fuzz-live-suite.js';

describeFuzzLive(MODES.clear);
