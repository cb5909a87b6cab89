// Opens the player page in Debian's headless Chromium, waits until the video has played a while,
// saves a screenshot and prints one JSON line. Usage: node play.mjs URL SCREENSHOT [MIN_ADVANCE_S] [TIMEOUT_S]
import { keepConsole, launch } from './browser.mjs';

const [url, screenshot, minAdvance = '6', timeout = '40'] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node play.mjs URL SCREENSHOT [MIN_ADVANCE_S] [TIMEOUT_S]');
  process.exit(2);
}

const browser = await launch({ autoplay: true });
const state = () => page.evaluate(() => {
  const p = window.livegatePlayer;
  if (!p) return null;
  return { currentTime: p.video.currentTime, videoWidth: p.video.videoWidth, videoHeight: p.video.videoHeight,
    fatal: p.fatal, errors: p.errors.map((e) => `${e.fatal ? 'FATAL ' : ''}${e.type}/${e.details}`) };
});
const console_ = [];
let page;
let result = { url };
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  keepConsole(page, console_);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 15000 });  // 'load' waits for the video's first frame
  // The start is taken once playback has begun, so the advance measures playing, not loading.
  await page.waitForFunction(() => window.livegatePlayer && window.livegatePlayer.video.currentTime > 0,
    null, { timeout: Number(timeout) * 1000, polling: 200 });
  const start = await state();
  const deadline = Date.now() + Number(timeout) * 1000;
  let now = start;
  while (Date.now() < deadline && now.currentTime - start.currentTime < Number(minAdvance) && !now.fatal) {
    await page.waitForTimeout(500);
    now = await state();
  }
  await page.waitForTimeout(600);  // let the status line refresh before the picture is taken
  await page.screenshot({ path: screenshot });
  now = await state();
  result = { url, startTime: start.currentTime, endTime: now.currentTime, videoWidth: now.videoWidth,
    videoHeight: now.videoHeight, fatal: now.fatal, errors: now.errors,
    status: await page.evaluate(() => document.getElementById('status').innerText.replace(/\s+/g, ' ')) };
} catch (e) {
  result.failure = String(e.message || e).split('\n')[0];
  if (page) {
    result.state = await state().catch(() => null);
    await page.screenshot({ path: screenshot }).catch(() => {});
  }
} finally {
  result.console = console_.slice(-20);
  await browser.close();
}
console.log(JSON.stringify(result));
