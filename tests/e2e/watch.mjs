// Opens the player page in Debian's headless Chromium and watches playback: prints {"event":"playing"} once
// the video plays, then samples it every 100 ms for WATCH_S seconds and prints one JSON line with the
// samples (with hls.js's latency), when the first frame showed and the playlist played, for the test to
// find stalls in. Usage: node watch.mjs URL SCREENSHOT WATCH_S [START_TIMEOUT_S]
import { keepConsole, launch } from './browser.mjs';

const [url, screenshot, watchS, startTimeout = '40'] = process.argv.slice(2);
if (!url || !screenshot || !watchS) {
  console.error('usage: node watch.mjs URL SCREENSHOT WATCH_S [START_TIMEOUT_S]');
  process.exit(2);
}

const browser = await launch({ autoplay: true });
const sample = () => page.evaluate(() => {
  const p = window.livegatePlayer;
  if (!p) return null;
  const v = p.video;
  return { t: v.currentTime, ready: v.readyState, paused: v.paused, ended: v.ended, fatal: p.fatal,
    errors: p.errors.length, width: v.videoWidth, height: v.videoHeight,
    latency: p.hls ? p.hls.latency : null, rate: v.playbackRate };
});
const console_ = [];
let page;
let result = { url };
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  keepConsole(page, console_);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 15000 });
  await page.waitForFunction(() => window.livegatePlayer && window.livegatePlayer.video.currentTime > 0,
    null, { timeout: Number(startTimeout) * 1000, polling: 100 });
  console.log(JSON.stringify({ event: 'playing' }));
  const began = Date.now();
  const samples = [];
  while (Date.now() - began < Number(watchS) * 1000) {
    const s = await sample();
    samples.push({ wall: (Date.now() - began) / 1000, ...s });
    await page.waitForTimeout(100);
  }
  await page.screenshot({ path: screenshot });
  result = { url, samples, firstFrameMs: await page.evaluate(() => window.livegatePlayer.firstFrameMs),
    playlist: await page.evaluate(() => {
      const h = window.livegatePlayer.hls;
      const d = h && h.levels[h.currentLevel] && h.levels[h.currentLevel].details;
      return d ? { url: d.url, partTarget: d.partTarget, canBlockReload: d.canBlockReload } : null;
    }),
    errors: await page.evaluate(() => window.livegatePlayer.errors.map(
      (e) => `${e.fatal ? 'FATAL ' : ''}${e.type}/${e.details} at ${(e.time - performance.timeOrigin) / 1000} s` +
        (e.message ? `: ${e.message}` : ''))),
    status: await page.evaluate(() => document.getElementById('status').innerText.replace(/\s+/g, ' ')) };
} catch (e) {
  result.failure = String(e.message || e).split('\n')[0];
  if (page) await page.screenshot({ path: screenshot }).catch(() => {});
} finally {
  result.console = console_.slice(-20);
  await browser.close();
}
console.log(JSON.stringify(result));
