// A small time-series line chart drawn as inline SVG, for the operator view (no chart library, no network).
'use strict';
(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  // Drawing units of the viewBox; the SVG scales to its box, so text keeps its proportion to the plot.
  const WIDTH = 320;
  const HEIGHT = 128;
  const PAD = { left: 38, right: 10, top: 8, bottom: 20 };
  const PLOT_W = WIDTH - PAD.left - PAD.right;
  const PLOT_H = HEIGHT - PAD.top - PAD.bottom;
  const GRID_LINES = 4;  // horizontal lines, so a value can be read off to about a quarter of the scale

  function node(name, attrs, text) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // The smallest step of the 1-2-2.5-5 series that covers `raw`, so grid labels are round numbers.
  function niceStep(raw) {
    if (!(raw > 0)) return 1;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
    return 10 * magnitude;
  }

  function number(v, digits) {
    return Number(v.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });
  }

  function duration(ms) {
    const s = Math.round(ms / 1000);
    if (s < 90) return `${s} s`;
    return `${Number((s / 60).toFixed(1))} min`;
  }

  // Draws `opts.points` ([{t, v}], t in ms, v a number or null, oldest first) into the <svg> `svg`,
  // replacing what it held. The x axis ends at `opts.end` and covers `opts.span` ms; consecutive points
  // further apart than `opts.gap` ms are not joined (the publisher was away, or samples were missed).
  // `opts.reference` ({value, label}) draws a dashed line, e.g. the declared frame rate.
  // Returns {drawn, last, min, max} of the points inside the window.
  function draw(svg, opts) {
    const start = opts.end - opts.span;
    const inside = opts.points.filter((p) => p.t >= start && p.t <= opts.end && Number.isFinite(p.v));
    const values = inside.map((p) => p.v);
    const reference = opts.reference && Number.isFinite(opts.reference.value) ? opts.reference : null;
    const top = Math.max(0, ...values, reference ? reference.value : 0);
    const step = niceStep(top / GRID_LINES);
    const yMax = Math.max(step, step * Math.ceil(top / step - 1e-9));
    const x = (t) => PAD.left + ((t - start) / opts.span) * PLOT_W;
    const y = (v) => PAD.top + PLOT_H * (1 - v / yMax);

    svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute('role', 'img');
    const parts = [];
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      parts.push(node('line', { class: 'chart-grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }));
      parts.push(node('text', { class: 'chart-tick', x: PAD.left - 4, y: y(v) + 3.5, 'text-anchor': 'end' },
        number(v, step < 1 ? 2 : step < 10 ? 1 : 0)));
    }
    const bottom = HEIGHT - 5;
    parts.push(node('text', { class: 'chart-tick', x: PAD.left, y: bottom }, `−${duration(opts.span)}`));
    parts.push(node('text', { class: 'chart-tick', x: WIDTH - PAD.right, y: bottom, 'text-anchor': 'end' },
      opts.endLabel || 'now'));
    if (reference) {
      parts.push(node('line', { class: 'chart-ref', x1: PAD.left, x2: WIDTH - PAD.right,
        y1: y(reference.value), y2: y(reference.value) }));
      // At the left: new samples arrive at the right edge, where the label would hide them.
      parts.push(node('text', { class: 'chart-ref-label', x: PAD.left + 3, y: y(reference.value) - 3 },
        reference.label));
    }

    let d = '';
    let previous = null;
    for (const p of inside) {
      const joined = previous && p.t - previous.t <= opts.gap;
      d += `${joined ? 'L' : 'M'}${x(p.t).toFixed(1)} ${y(p.v).toFixed(1)}`;
      previous = p;
    }
    if (d) parts.push(node('path', { class: 'chart-line', d }));
    const last = inside[inside.length - 1];
    if (last) {
      parts.push(node('circle', { class: 'chart-dot', cx: x(last.t).toFixed(1), cy: y(last.v).toFixed(1), r: 2.5 }));
    } else {
      parts.push(node('text', { class: 'chart-empty', x: PAD.left + PLOT_W / 2, y: PAD.top + PLOT_H / 2,
        'text-anchor': 'middle' }, 'no samples'));
    }

    const summary = { drawn: inside.length, last: last ? last.v : NaN,
      min: values.length ? Math.min(...values) : NaN, max: values.length ? Math.max(...values) : NaN };
    // Screen readers get the numbers the picture shows.
    const unit = opts.unit ? ` ${opts.unit}` : '';
    const words = last
      ? `${opts.label} over the last ${duration(opts.span)}: now ${number(summary.last, opts.digits)}${unit}, ` +
        `lowest ${number(summary.min, opts.digits)}, highest ${number(summary.max, opts.digits)}`
      : `${opts.label}: no samples`;
    svg.setAttribute('aria-label', words);
    svg.replaceChildren(node('title', {}, words), ...parts);
    return summary;
  }

  window.livegateChart = { draw, duration };
})();
