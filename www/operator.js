// The operator view's logic: polls /api/streams and shows every stream's facts, health, problems and charts.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;
  const WINDOW_MS = 5 * 60 * 1000;  // the charts' longest span: as much history as the API keeps
  const MIN_SPAN_MS = 20 * 1000;  // a young stream's few samples are not squeezed into a sliver
  const LOCAL_SAMPLES_MAX = WINDOW_MS / POLL_MS;  // kept in the page when the server sends no history
  const GAP_INTERVALS = 2.5;  // samples further apart than this many intervals are not joined by a line
  const NAME = /^[A-Za-z0-9_.-]{1,128}\/[A-Za-z0-9_.-]{1,128}$/;  // APP/KEY as livegate accepts them
  const DASH = '—';
  const HEALTH = { ok: 'OK', warn: 'Warning', bad: 'Bad' };
  const SEVERITY = { info: 'note', warn: 'warning', bad: 'bad' };

  // Read by the end-to-end test.
  // Read by the end-to-end test: per stream and chart, what was drawn ({drawn, last, min, max, source}).
  const op = (window.livegateOperator = { polls: 0, failures: 0, streams: [], body: null, charts: {} });
  const views = new Map();  // APP/KEY -> the stream's row, card and the samples the page kept itself

  const nameOf = (s) => `${s.app}/${s.key}`;
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  // Rates and intervals are 0 until measured (or without video): that is "unknown", not zero.
  const firstPositive = (...vs) => vs.find((v) => isNum(v) && v > 0);
  const obj = (v) => (v && typeof v === 'object' ? v : {});
  const fmt = (v, digits, unit = '') => (isNum(v)
    ? `${Number(v.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits })}${unit}` : DASH);
  const count = (v) => (isNum(v) ? String(v) : DASH);
  const clock = (ms) => (isNum(ms) && ms > 0 ? new Date(ms).toLocaleTimeString('en-GB') : DASH);

  // Newer servers report these in `health`; older ones only in `video` and the stream itself.
  const measuredFps = (s) => firstPositive(obj(s.health).measured_frame_rate, obj(s.video).measured_frame_rate);
  const declaredFps = (s) => firstPositive(obj(s.health).declared_frame_rate, obj(s.video).frame_rate);
  const keyframeInterval = (s) => firstPositive(obj(s.health).keyframe_interval_s, s.keyframe_interval_s,
    obj(s.video).keyframe_interval_s);
  const healthStatus = (s) => (s.health && HEALTH[s.health.status] ? s.health.status : 'unknown');
  const problems = (s) => (s.health && Array.isArray(s.health.problems) ? s.health.problems.filter(Boolean) : null);

  function videoText(s) {
    const v = s.video;
    if (!v) return DASH;
    const size = isNum(v.width) && v.width > 0 ? `${v.width}×${v.height}` : '';
    return [v.codec, size].filter(Boolean).join(' ') || DASH;
  }

  function codecDetail(s) {
    const v = s.video;
    const a = s.audio;
    const video = v ? [v.codec, v.profile, isNum(v.level) ? `level ${v.level}` : ''].filter(Boolean).join(' ') : 'none';
    const audio = a ? [a.codec, isNum(a.sample_rate) ? `${a.sample_rate / 1000} kHz` : '',
      isNum(a.channels) ? `${a.channels} ch` : ''].filter(Boolean).join(' ') : 'none';
    return `video ${video} · audio ${audio}`;
  }

  const fpsText = (s) => `${fmt(measuredFps(s), 2)} / ${fmt(declaredFps(s), 2)}`;
  const segmentsText = (s) => (s.hls
    ? `${count(s.hls.segments_listed)} listed, sequence ${count(s.hls.media_sequence)}${s.hls.ended ? ', ended' : ''}`
    : DASH);

  function driftText(s) {
    const h = obj(s.health);
    if (!isNum(h.av_drift_ms)) return DASH;
    return `${fmt(h.av_drift_ms, 0, ' ms')}${isNum(h.av_drift_ms_per_min) ? ` (${fmt(h.av_drift_ms_per_min, 1)} ms/min)` : ''}`;
  }

  function listText(s, fields) {
    const h = obj(s.health);
    if (!fields.some(([key]) => isNum(h[key]))) return DASH;
    return fields.map(([key, word]) => `${count(h[key])} ${word}`).join(', ');
  }

  function problemsSummary(s) {
    const list = problems(s);
    if (!list) return DASH;
    return list.length === 0 ? 'none' : `${list.length} (see below)`;
  }

  // The card's facts: label and how to read it from a stream of the API.
  const FACTS = [
    ['codecs', codecDetail],
    ['publisher', (s) => [obj(s.publisher).address, obj(s.publisher).encoder].filter(Boolean).join(' · ') || DASH],
    ['started', (s) => clock(s.start_time_ms) + (s.state === 'ended' ? `, ended ${clock(s.end_time_ms)}` : '')],
    ['bitrate', (s) => fmt(s.bitrate_kbps, 0, ' kb/s')],
    ['frame rate (measured / declared)', fpsText],
    ['keyframe interval', (s) => fmt(keyframeInterval(s), 2, ' s')],
    ['HLS segments', segmentsText],
    ['target duration', (s) => fmt(obj(s.hls).target_duration_s, 0, ' s')],
    ['audio/video drift', driftText],
    ['timestamps', (s) => listText(s, [['timestamp_jumps', 'jumps'], ['timestamp_wraps', 'wraps'],
      ['dts_backwards', 'backwards']])],
    ['segments over target', (s) => count(obj(s.health).long_segments)],
    ['frames', (s) => listText(s, [['dropped_frames', 'dropped'], ['late_frames', 'late']])],
    ['reconnects', (s) => count(obj(s.health).reconnects)],
  ];

  const CHARTS = [
    { field: 'bitrate_kbps', label: 'Bitrate', unit: 'kb/s', digits: 0, now: (s) => s.bitrate_kbps,
      reference: () => null },
    { field: 'frame_rate', label: 'Frame rate', unit: 'fps', digits: 1, now: measuredFps, zeroIsUnknown: true,
      reference: (s) => (isNum(declaredFps(s)) ? { value: declaredFps(s), label: `declared ${fmt(declaredFps(s), 2)}` } : null) },
    { field: 'keyframe_interval_s', label: 'Keyframe interval', unit: 's', digits: 1, now: keyframeInterval,
      zeroIsUnknown: true,
      reference: (s) => (isNum(obj(s.hls).target_duration_s)
        ? { value: s.hls.target_duration_s, label: `playlist target ${s.hls.target_duration_s} s` } : null) },
  ];

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    e.append(...children);
    return e;
  }

  function badge(kind) {
    return el('span', { class: `badge ${kind}` });
  }

  function setBadge(b, kind, value, text, title) {
    b.className = `badge ${kind} ${kind}-${value}`;
    b.dataset.status = value;
    b.textContent = text;
    b.title = title;
  }

  function createView(name) {
    const id = `stream-${name}`;
    const titleId = `${id}-title`;
    const cells = Object.fromEntries(['state', 'health', 'video', 'bitrate', 'fps', 'keyframe', 'segments', 'problems']
      .map((k) => [k, el('td', { 'data-col': k })]));
    const row = el('tr', { 'data-stream': name }, el('th', { scope: 'row' }, el('a', { href: `#${id}` }, name)),
      ...Object.values(cells));

    const stateBadge = badge('state');
    const healthBadge = badge('health');
    const playlist = `/${name}/index.m3u8`;
    const head = el('div', { class: 'card-head' }, el('h3', { id: titleId }, name), stateBadge, healthBadge,
      el('span', { class: 'links' }, el('a', { href: `/?stream=${name}` }, 'play'), ' ',
        el('a', { href: playlist, class: 'playlist' }, 'playlist (m3u8)')));
    const problemList = el('ul', { class: 'problems', 'aria-label': `Problems of ${name}` });
    const facts = FACTS.map(([label, read]) => ({ dd: el('dd'), read, label }));
    const dl = el('dl', { class: 'facts' }, ...facts.map((f) => el('div', {}, el('dt', {}, f.label), f.dd)));
    const charts = CHARTS.map((c) => {
      const now = el('strong', { class: 'now' });
      const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      svg.setAttribute('class', 'chart');
      svg.dataset.field = c.field;
      return { spec: c, now, svg, figure: el('figure', {}, el('figcaption', {}, `${c.label} `, now), svg) };
    });
    const card = el('article', { class: 'card', id, 'data-stream': name, 'aria-labelledby': titleId },
      head, problemList, el('div', { class: 'charts' }, ...charts.map((c) => c.figure)), dl);
    return { row, cells, card, stateBadge, healthBadge, problemList, facts, charts, local: [] };
  }

  function renderProblems(view, s) {
    const list = problems(s);
    if (!list) {
      view.problemList.replaceChildren(el('li', { class: 'problem none' }, 'Health is not reported by this server.'));
    } else if (list.length === 0) {
      view.problemList.replaceChildren(el('li', { class: 'problem none' }, 'No problems seen.'));
    } else {
      view.problemList.replaceChildren(...list.map((p) => {
        const severity = SEVERITY[p.severity] ? p.severity : 'warn';
        return el('li', { class: `problem severity-${severity}`, 'data-code': String(p.code || '') },
          el('span', { class: 'severity' }, SEVERITY[severity]), ' ',
          el('span', { class: 'hint' }, String(p.hint || p.code || 'unnamed problem')));
      }));
    }
  }

  // The server's history when it keeps one; else what this page has seen since it opened.
  function samplesOf(view, s) {
    const h = s.history;
    if (h && Array.isArray(h.samples)) {
      const interval = isNum(h.interval_s) && h.interval_s > 0 ? h.interval_s * 1000 : POLL_MS;
      return { samples: h.samples.filter((p) => p && isNum(p.t_ms)), interval, source: 'server' };
    }
    if (s.state === 'live') {
      view.local.push({ t_ms: Date.now(), bitrate_kbps: s.bitrate_kbps, frame_rate: measuredFps(s),
        keyframe_interval_s: keyframeInterval(s) });
      const oldest = Date.now() - WINDOW_MS;
      while (view.local.length > LOCAL_SAMPLES_MAX || (view.local.length && view.local[0].t_ms < oldest)) {
        view.local.shift();
      }
    }
    return { samples: view.local, interval: POLL_MS, source: 'page' };
  }

  function renderCharts(view, s) {
    const { samples, interval, source } = samplesOf(view, s);
    const drawn = (op.charts[nameOf(s)] = {});
    const times = samples.map((p) => p.t_ms);
    const end = times.length ? Math.max(...times) : Date.now();
    const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, end - Math.min(...times, end)));
    for (const c of view.charts) {
      const spec = c.spec;
      c.now.textContent = fmt(spec.now(s), spec.digits, ` ${spec.unit}`);
      drawn[spec.field] = { source, ...window.livegateChart.draw(c.svg, {
        label: spec.label, unit: spec.unit, digits: spec.digits, end, span, gap: interval * GAP_INTERVALS,
        points: samples.map((p) => {
          const v = p[spec.field];
          return { t: p.t_ms, v: isNum(v) && !(spec.zeroIsUnknown && v <= 0) ? v : null };
        }),
        reference: spec.reference(s), endLabel: s.state === 'live' ? 'now' : 'end',
      }) };
    }
  }

  function render(view, s) {
    const name = nameOf(s);
    const status = healthStatus(s);
    const live = s.state === 'live';
    const state = live || s.state === 'reconnecting' ? s.state : 'ended';
    setBadge(view.stateBadge, 'state', state, state, {
      live: 'publishing now',
      reconnecting: `the publisher went away; the playlist stays open for it ${fmt(s.reconnect_in_s, 0, ' s')} more`,
      ended: 'the publisher stopped; kept for the retention time',
    }[state]);
    setBadge(view.healthBadge, 'health', status, status === 'unknown' ? `health ${DASH}` : HEALTH[status],
      status === 'unknown' ? 'health is not reported by this server' : `health: ${HEALTH[status]}`);
    const c = view.cells;
    c.state.textContent = state;
    c.state.className = state;
    const tableBadge = c.health.firstChild || c.health.appendChild(badge('health'));
    setBadge(tableBadge, 'health', status, status === 'unknown' ? DASH : HEALTH[status], view.healthBadge.title);
    c.video.textContent = videoText(s);
    c.bitrate.textContent = fmt(s.bitrate_kbps, 0, ' kb/s');
    c.fps.textContent = fpsText(s);
    c.keyframe.textContent = fmt(keyframeInterval(s), 2, ' s');
    c.segments.textContent = s.hls ? count(s.hls.segments_listed) : DASH;
    c.problems.textContent = problemsSummary(s);
    view.card.classList.toggle('ended', !live);
    // Only a path on this server: the link must not lead elsewhere whatever the field holds.
    const path = typeof s.playlist === 'string' && /^\/[A-Za-z0-9_.\/-]+$/.test(s.playlist) && !s.playlist.startsWith('//');
    view.card.querySelector('.playlist').href = path ? s.playlist : `/${name}/index.m3u8`;
    for (const f of view.facts) f.dd.textContent = f.read(s);
    renderProblems(view, s);
    renderCharts(view, s);
  }

  // Moves nodes only when the order changed, so focus and selection survive a refresh.
  function order(parent, nodes) {
    const current = Array.from(parent.children);
    if (current.length !== nodes.length || current.some((n, i) => n !== nodes[i])) parent.replaceChildren(...nodes);
  }

  function summary(streams) {
    const live = streams.filter((s) => s.state === 'live').length;
    const parts = [`${live} live`, `${streams.length - live} ended`];
    for (const status of ['bad', 'warn']) {
      const n = streams.filter((s) => healthStatus(s) === status).length;
      if (n) parts.push(`${n} ${HEALTH[status].toLowerCase()}`);
    }
    return parts.join(' · ');
  }

  function show(streams) {
    for (const s of streams) {
      const name = nameOf(s);
      if (!views.has(name)) views.set(name, createView(name));
      render(views.get(name), s);
    }
    const names = new Set(streams.map(nameOf));
    for (const name of [...views.keys()]) {
      if (!names.has(name)) {
        views.delete(name);
        delete op.charts[name];
      }
    }
    const shown = streams.map((s) => views.get(nameOf(s)));
    order($('overview').tBodies[0], shown.map((v) => v.row));
    order($('cards'), shown.map((v) => v.card));
    $('empty').hidden = streams.length > 0;
    const text = summary(streams);
    if ($('summary').textContent !== text) $('summary').textContent = text;  // a live region: speak changes only
    op.streams = streams.map(nameOf);
  }

  async function poll() {
    try {
      const r = await fetch('/api/streams', { cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const body = await r.json();
      const streams = (Array.isArray(body.streams) ? body.streams : [])
        .filter((s) => s && typeof s === 'object' && NAME.test(nameOf(s)))
        .sort((a, b) => (a.state === b.state ? nameOf(a).localeCompare(nameOf(b)) : a.state === 'live' ? -1 : 1));
      op.body = body;
      show(streams);
      if ($('poll-status').textContent) $('poll-status').textContent = '';
    } catch (e) {
      op.failures += 1;
      const text = `stream list unavailable (${e.message}); retrying every ${POLL_MS / 1000} s`;
      if ($('poll-status').textContent !== text) $('poll-status').textContent = text;
    }
    op.polls += 1;
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
