// The player page's logic: polls /api/streams, plays the chosen stream's multivariant playlist with hls.js in
// low-latency mode (or native HLS), shows live stats.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const NAME = /^[A-Za-z0-9_.-]{1,128}\/[A-Za-z0-9_.-]{1,128}$/;  // APP/KEY as livegate accepts them
  // Read by the end-to-end tests; `fatal` stays true once a fatal error happened on the current stream.
  // `firstFrameMs`: when the current stream's first frame was shown, in ms since the page began loading.
  const player = (window.livegatePlayer = { hls: null, video, stream: null, errors: [], fatal: false,
    firstFrameMs: null });
  let streams = [];
  let retryTimer = 0;

  const dash = '–';
  const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : dash);
  const resolution = (v) => (v && v.width ? `${v.width}×${v.height}` : dash);
  const fps = (v) => {
    const f = v && (v.measured_frame_rate || v.frame_rate);
    return f ? String(Math.round(f * 100) / 100) : dash;
  };
  const kbps = (s) => (s && s.bitrate_kbps ? `${Math.round(s.bitrate_kbps)} kb/s` : dash);
  const nameOf = (s) => `${s.app}/${s.key}`;

  function cell(text) {
    const td = document.createElement('td');
    td.textContent = text;
    return td;
  }

  function renderList() {
    const rows = streams.map((s) => {
      const name = nameOf(s);
      const tr = document.createElement('tr');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = name;
      const first = document.createElement('td');
      first.append(button);
      const state = cell(String(s.state));
      state.className = s.state === 'live' || s.state === 'reconnecting' ? s.state : 'ended';
      tr.append(first, cell(resolution(s.video)), cell(fps(s.video)), cell(kbps(s)), state);
      if (name === player.stream) tr.setAttribute('aria-current', 'true');
      tr.addEventListener('click', () => play(name));  // the button's clicks (and Enter) bubble here
      return tr;
    });
    $('streams').tBodies[0].replaceChildren(...rows);
    $('empty').hidden = streams.length > 0;
  }

  async function poll() {
    try {
      const r = await fetch('/api/streams', { cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const body = await r.json();
      streams = (Array.isArray(body.streams) ? body.streams : [])
        .filter((s) => s && NAME.test(nameOf(s)))
        .sort((a, b) => (a.state === b.state ? nameOf(a).localeCompare(nameOf(b)) : a.state === 'live' ? -1 : 1));
      $('poll-status').textContent = '';
    } catch (e) {
      $('poll-status').textContent = `stream list unavailable (${e.message})`;
    }
    renderList();
    setTimeout(poll, 2000);
  }

  // Every error is counted in the status line; a fatal one also shows in the alert under it.
  function record(error) {
    player.errors.push({ time: Date.now(), ...error });
    if (player.errors.length > 50) player.errors.shift();
    if (!error.fatal) return;
    player.fatal = true;
    $('error').textContent = `Fatal error: ${error.type} / ${error.details}` +
      (error.recovery ? ` — ${error.recovery}` : '');
    $('error').hidden = false;
  }

  function stop() {
    clearTimeout(retryTimer);
    if (player.hls) player.hls.destroy();
    player.hls = null;
    video.removeAttribute('src');
    video.load();
  }

  function play(name) {
    if (!NAME.test(name)) return record({ type: 'page', details: 'bad stream name, expected APP/KEY', fatal: true });
    stop();
    Object.assign(player, { stream: name, errors: [], fatal: false, firstFrameMs: null });
    $('error').hidden = true;
    history.replaceState(null, '', `?stream=${name}`);
    $('now-name').textContent = name;
    // The multivariant playlist names the Low-Latency HLS rendition (ll.m3u8), or the MPEG-TS one
    // (index.m3u8) when the server packages MPEG-TS only.
    const url = `/${name}/master.m3u8`;
    $('now-link').href = url;
    $('now-link').hidden = false;
    renderList();
    video.muted = true;  // browsers allow muted autoplay only
    if (window.Hls && Hls.isSupported()) {
      playHls(url);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url;  // Safari plays HLS itself
      video.play().catch(() => {});
    } else {
      record({ type: 'page', details: 'this browser cannot play HLS', fatal: true });
    }
  }

  function playHls(url) {
    // The distance to the live edge is left to the playlist: PART-HOLD-BACK in low-latency mode (HOLD-BACK,
    // or three segments, otherwise). Setting liveSyncDuration* here would override it.
    const hls = new Hls({
      lowLatencyMode: true,
      maxLiveSyncPlaybackRate: 1.1,  // catch up by playing slightly faster when behind
      backBufferLength: 30,
      manifestLoadingMaxRetry: 4,
      levelLoadingMaxRetry: 6,
      fragLoadingMaxRetry: 6,
    });
    player.hls = hls;
    let mediaRecoveries = 0;
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    hls.on(Hls.Events.FRAG_BUFFERED, () => {
      mediaRecoveries = 0;
      $('error').hidden = true;  // recovered; the errors count in the status line keeps the history
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      const error = { type: data.type, details: data.details, fatal: data.fatal,
        message: data.error ? String(data.error.message || data.error) : undefined };
      if (data.fatal) {
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 3) {
          mediaRecoveries += 1;
          error.recovery = `recovering the media (attempt ${mediaRecoveries})`;
          hls.recoverMediaError();
        } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          error.recovery = 'retrying in 2 s';
          const reload = data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR;
          retryTimer = setTimeout(() => (reload ? hls.loadSource(url) : hls.startLoad()), 2000);
        } else {
          error.recovery = 'playback stopped; pick the stream again to retry';
          hls.destroy();
          player.hls = null;
        }
      }
      record(error);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function bufferAhead() {
    const b = video.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.1 && video.currentTime <= b.end(i)) return b.end(i) - video.currentTime;
    }
    return 0;
  }

  function latency() {
    const l = player.hls ? player.hls.latency : NaN;
    if (Number.isFinite(l) && l > 0) return l;
    const s = video.seekable;
    return s.length ? s.end(s.length - 1) - video.currentTime : NaN;
  }

  function updateStatus() {
    const active = Boolean(player.stream);
    const info = streams.find((s) => nameOf(s) === player.stream);
    $('st-latency').textContent = active && video.readyState > 0 ? `${fixed(latency(), 1)} s` : dash;
    $('st-resolution').textContent = video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : dash;
    $('st-bitrate').textContent = kbps(info);
    $('st-buffer').textContent = active ? `${fixed(bufferAhead(), 1)} s` : dash;
    $('st-state').textContent = !active ? dash
      : video.ended || (info && info.state === 'ended') ? 'ended'
        : info && info.state === 'reconnecting' ? `encoder reconnecting (${fixed(info.reconnect_in_s, 0)} s left)`
        : video.paused ? 'paused' : video.readyState < 3 ? 'buffering' : 'playing';
    const last = player.errors[player.errors.length - 1];
    const detail = document.createElement('small');
    detail.textContent = detail.title = last ? last.details : '';
    $('st-errors').replaceChildren(String(player.errors.length), detail);
  }

  video.addEventListener('playing', () => {
    if (player.firstFrameMs === null && player.stream) player.firstFrameMs = performance.now();
  });
  video.addEventListener('error', () => {
    if (!player.hls && video.error) record({ type: 'media', details: `native error ${video.error.code}`, fatal: true });
  });
  setInterval(updateStatus, 500);
  poll();
  const wanted = new URLSearchParams(location.search).get('stream');
  if (wanted) play(wanted);
})();
