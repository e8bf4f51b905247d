/**
 * Headless Chromium for the dashboard's browser test and benchmark: Debian's `chromium` package
 * (/usr/bin/chromium, or GRAPEVINE_CHROMIUM), driven by playwright-core with `executablePath`, so
 * nothing is downloaded. A missing browser is an error that says how to install it, never a skip.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.GRAPEVINE_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`headless Chromium not found at ${CHROMIUM}: install Debian's package (apt-get update && apt-get install -y chromium; .ci/run does this) or point GRAPEVINE_CHROMIUM at a Chromium binary`);
  }
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  // --disable-dev-shm-usage: containers often have a tiny /dev/shm.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}
