/** A live node under garbage, encrypted, compressed and labelled: everything should stop at the AEAD (fuzz-live-suite.ts). */
import { MODES, describeFuzzLive } from './fuzz-live-suite.js';

describeFuzzLive(MODES.encrypted);
