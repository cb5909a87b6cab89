// Debian's headless Chromium as the e2e scripts run it, and the page's console kept for their reports.
import { chromium } from 'playwright-core';

// `autoplay`: video may start without a user gesture (the player page needs it, the operator view not).
export function launch({ autoplay = false } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...(autoplay ? ['--autoplay-policy=no-user-gesture-required'] : [])],
  });
}

// Collects the page's console messages and uncaught errors into `lines`.
export function keepConsole(page, lines) {
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
}
