/**
 * The dashboard end to end in headless Chromium: three real agent processes, the page of one,
 * three alive members; one agent is SIGKILLed and its row and ring node turn dead without a
 * reload; sorting the table by a column reorders it. GRAPEVINE_DASHBOARD_SCREENSHOT=path saves a
 * screenshot of the final page (docs/dashboard.png is made that way).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { agentFixture } from './cli-harness.js';
import { launchChromium } from './browser-harness.js';

const { startAgent, sees } = agentFixture('grapevine-dash-');
let browser: Browser | undefined;
const shots = mkdtempSync(join(tmpdir(), 'grapevine-dash-shot-'));

afterAll(async () => {
  await browser?.close();
  rmSync(shots, { recursive: true, force: true });
});

describe('dashboard in a browser', () => {
  it('shows 3 alive members, turns a SIGKILLed one dead live, and sorts the table', async () => {
    const launching = launchChromium();
    launching.catch(() => undefined);
    const a1 = startAgent('dash-1', ['--http', '127.0.0.1:0', '--meta', 'zone=z1']);
    const ready = await a1.waitReady();
    const a2 = startAgent('dash-2', ['--join', ready.addr, '--meta', 'zone=z2']);
    const a3 = startAgent('dash-3', ['--join', ready.addr, '--meta', 'zone=z3']);
    await sees([a1], 'dash-2');
    await sees([a1], 'dash-3');
    browser = await launching;
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://${ready.http}/`);

    const rows = page.locator('#members tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('#members tbody .badge.alive').length === 3, undefined, { timeout: 10_000 });
    expect(await rows.count()).toBe(3);
    expect(await page.locator('#ring circle.m.alive').count()).toBe(3);
    expect(await page.locator('#status').textContent()).toBe('live');
    // A reload would lose this.
    await page.evaluate(() => Object.assign(window, { beforeKill: true }));

    a3.kill('SIGKILL');
    await page.waitForFunction(() => document.querySelector('#members tbody tr[data-name="dash-3"] .badge')?.textContent === 'dead', undefined, { timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { beforeKill?: boolean }).beforeKill)).toBe(true);
    expect(await page.locator('#ring circle.m.dead').count()).toBe(1);
    expect(await page.locator('#timeline li', { hasText: 'dash-3' }).count()).toBeGreaterThan(0);

    const names = (): Promise<string[]> => rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.name ?? ''));
    expect(await names()).toEqual(['dash-1', 'dash-2', 'dash-3']);
    await page.click('#members th[data-key="name"]'); // already by name: the second click reverses
    await page.waitForFunction(() => document.querySelector('#members tbody tr')?.getAttribute('data-name') === 'dash-3', undefined, { timeout: 10_000 });
    expect(await names()).toEqual(['dash-3', 'dash-2', 'dash-1']);
    expect(await page.getAttribute('#members th[data-key="name"]', 'aria-sort')).toBe('descending');
    await page.click('#members th[data-key="state"]'); // alive first, dead last
    await page.waitForFunction(() => document.querySelector('#members tbody tr:last-child')?.getAttribute('data-name') === 'dash-3', undefined, { timeout: 10_000 });
    expect((await names())[2]).toBe('dash-3');
    await page.fill('#filter', 'z2');
    await page.waitForFunction(() => document.querySelectorAll('#members tbody tr').length === 1, undefined, { timeout: 10_000 });
    expect(await names()).toEqual(['dash-2']);
    await page.fill('#filter', '');

    // The stats poll drew the local health panel.
    await page.waitForFunction(() => /of \d/.test(document.querySelector('#awareness')?.textContent ?? ''), undefined, { timeout: 10_000 });
    const shot = process.env.GRAPEVINE_DASHBOARD_SCREENSHOT ?? join(shots, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    await page.close();
    void a2;
  }, 30_000);
});
