// Opens the operator view in Debian's headless Chromium, waits until every given stream is listed with a
// bitrate chart of at least MIN_POINTS points, saves a full-page screenshot and prints one JSON line of
// what the page shows. (Frame rate and keyframe interval need longer to be measured, so are not waited for.) Usage: node operator.mjs URL SCREENSHOT APP/KEY[,APP/KEY...] [MIN_POINTS] [TIMEOUT_S]
import { keepConsole, launch } from './browser.mjs';

const [url, screenshot, names, minPoints = '2', timeout = '30'] = process.argv.slice(2);
if (!url || !screenshot || !names) {
  console.error('usage: node operator.mjs URL SCREENSHOT APP/KEY[,APP/KEY...] [MIN_POINTS] [TIMEOUT_S]');
  process.exit(2);
}
const wanted = names.split(',');

const browser = await launch();
const console_ = [];
const requests = [];
let page;
let result = { url };

// Everything the test compares with the API, read from the DOM (what a person sees), not from page state,
// except `charts` and `body`: what the page drew and the API answer it drew it from.
const read = () => page.evaluate(() => {
  const text = (e) => (e ? e.textContent.trim().replace(/\s+/g, ' ') : null);
  const op = window.livegateOperator || {};
  const streams = {};
  for (const row of document.querySelectorAll('#overview tbody tr')) {
    const name = row.dataset.stream;
    const card = document.querySelector(`article.card[data-stream="${CSS.escape(name)}"]`);
    const cells = {};
    for (const td of row.querySelectorAll('td[data-col]')) cells[td.dataset.col] = text(td);
    const badge = card && card.querySelector('.badge.health');
    streams[name] = {
      cells,
      health: badge ? { status: badge.dataset.status, text: text(badge) } : null,
      hints: card ? [...card.querySelectorAll('.problem .hint')].map(text) : [],
      problemsText: card ? text(card.querySelector('.problems')) : null,
      playlist: card ? card.querySelector('a.playlist').getAttribute('href') : null,
      charts: card ? [...card.querySelectorAll('svg.chart')].map((svg) => {
        const path = svg.querySelector('path.chart-line');
        const box = path ? path.getBBox() : null;
        return { field: svg.dataset.field, label: svg.getAttribute('aria-label'),
          points: path ? (path.getAttribute('d').match(/[ML]/g) || []).length : 0,
          width: box ? box.width : 0, pixels: path ? path.getBoundingClientRect().width : 0 };
      }) : [],
    };
  }
  return { polls: op.polls, failures: op.failures, listed: op.streams, summary: text(document.getElementById('summary')),
    pollStatus: text(document.getElementById('poll-status')), streams, drawn: op.charts, body: op.body };
});

try {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  keepConsole(page, console_);
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: 'load', timeout: 15000 });
  await page.waitForFunction(([names, min]) => {
    const op = window.livegateOperator;
    return op && names.every((n) => {
      const card = document.querySelector(`article.card[data-stream="${CSS.escape(n)}"]`);
      const path = card && card.querySelector('svg.chart[data-field="bitrate_kbps"] path.chart-line');
      return path && (path.getAttribute('d').match(/[ML]/g) || []).length >= min;
    });
  }, [wanted, Number(minPoints)], { timeout: Number(timeout) * 1000, polling: 250 });
  result = { url, ...(await read()) };
  await page.screenshot({ path: screenshot, fullPage: true });
} catch (e) {
  result.failure = String(e.message || e).split('\n')[0];
  if (page) {
    result.state = await read().catch(() => null);
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  }
} finally {
  result.console = console_.slice(-20);
  result.offsite = requests.filter((u) => !u.startsWith(new URL(url).origin + '/') && !u.startsWith('data:'));
  await browser.close();
}
console.log(JSON.stringify(result));
