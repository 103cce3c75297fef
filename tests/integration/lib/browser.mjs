// browser.mjs -- Debian's Chromium driven by playwright-core, for browser tests.
//
//   import { launchBrowser } from '../integration/lib/browser.mjs';
//   const browser = await launchBrowser();
//   const page = await browser.newPage();
//   await page.goto(stack.url);
//   ...
//   await browser.close();
//
// playwright-core downloads no browser: it drives /usr/bin/chromium (installed
// by deploy/install-deps.sh), or $CHROMIUM.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/* The Chromium executable, or null when none is installed. */
export function chromiumPath() {
  return CANDIDATES.find((p) => p && existsSync(p)) ?? null;
}

/* Launches headless Chromium; opts go to playwright's chromium.launch(). As
 * root (CI), Chromium's sandbox cannot start, hence --no-sandbox there. */
export async function launchBrowser(opts = {}) {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no Chromium: run deploy/install-deps.sh');
  const args = ['--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({
    executablePath,
    headless: true,
    ...opts,
    args: [...args, ...(opts.args ?? [])],
  });
}
