// The glass-to-glass probe's viewer: headless Chromium plays PLAYLIST_URL with hls.js (the player page's
// configuration: low-latency mode, catching up at up to 1.1x), reads the wall-clock stamp that
// clock_source.py drew into each frame as it is shown, and prints one JSON line: the latency of every frame
// (now minus its stamp, ms) for WATCH_S seconds after the first frame, the stalls and hls.js's errors.
// The page is opened on ORIGIN_URL (any page of the server) so the playlist is same-origin.
// Usage: node probe.mjs ORIGIN_URL PLAYLIST_URL HLS_JS_FILE WATCH_S
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../e2e/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [origin, playlist, hlsFile, watchS] = process.argv.slice(2);
if (!origin || !playlist || !hlsFile || !watchS) {
  console.error('usage: node probe.mjs ORIGIN_URL PLAYLIST_URL HLS_JS_FILE WATCH_S');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--autoplay-policy=no-user-gesture-required'],
});
let result = { playlist };
try {
  const page = await browser.newPage();
  await page.goto(origin, { waitUntil: 'domcontentloaded', timeout: 15000 });
  const opened = await page.evaluate(() => performance.now());
  await page.addScriptTag({ path: hlsFile });
  await page.evaluate((url) => {
    const probe = (window.probe = { latencies: [], undecoded: 0, stalls: [], errors: [], firstFrameMs: null });
    const video = document.createElement('video');
    video.muted = true;
    document.body.replaceChildren(video);
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 80;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.1, backBufferLength: 30 });
    hls.on(Hls.Events.ERROR, (_e, d) => probe.errors.push(`${d.fatal ? 'FATAL ' : ''}${d.type}/${d.details}`));
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    hls.loadSource(url);
    hls.attachMedia(video);
    let waitingSince = null;
    video.addEventListener('waiting', () => { if (probe.firstFrameMs !== null) waitingSince = performance.now(); });
    video.addEventListener('playing', () => {
      if (waitingSince !== null) probe.stalls.push(performance.now() - waitingSince);
      waitingSince = null;
    });
    const onFrame = () => {
      const now = Date.now();
      ctx.drawImage(video, 0, 0, 640, 80, 0, 0, 640, 80);
      const px = ctx.getImageData(0, 0, 640, 80).data;
      let stamp = 0;
      for (let i = 0; i < 32; i++) {
        const x = (i % 16) * 40 + 20, y = Math.floor(i / 16) * 40 + 20;
        stamp = stamp * 2 + (px[(y * 640 + x) * 4] > 128 ? 1 : 0);
      }
      const latency = (now - stamp) % 2 ** 32;  // the stamp is the clock mod 2^32
      const l = latency < 0 ? latency + 2 ** 32 : latency;
      if (l < 60000) {
        if (probe.firstFrameMs === null) probe.firstFrameMs = performance.now();
        probe.latencies.push(l);
      } else {
        probe.undecoded += 1;
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }, playlist);
  await page.waitForFunction(() => window.probe.firstFrameMs !== null, null, { timeout: 60000, polling: 100 });
  await page.waitForTimeout(Number(watchS) * 1000);
  result = { playlist, ...(await page.evaluate(() => window.probe)), openedMs: opened };
} catch (e) {
  result.failure = String(e.message || e).split('\n')[0];
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
