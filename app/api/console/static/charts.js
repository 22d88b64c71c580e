// Charts drawn as SVG in the browser, no library. Each has a text alternative (role="img" and a label);
// the views also show the same figures as a table, so colour never carries meaning alone.
const NS = 'http://www.w3.org/2000/svg';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined) node.setAttribute(key, value);
  for (const child of children.flat()) node.append(child);
  return node;
}

const title = (text) => el('title', {}, text);

// Distinguishable colours, cycled; the legend and the tables name every series.
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
  '#bcbd22', '#17becf', '#393b79', '#ad494a', '#637939', '#8c6d31', '#7b4173', '#3182bd', '#e6550d', '#31a354',
  '#756bb1'];

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= value);
}

// Bars per day, stacked by series: days [{date, total, by_category}], series [{id, name, colour}].
export function stackedBars(days, series, label) {
  const width = 720, height = 240, left = 44, bottom = 28, top = 8;
  const max = niceMax(Math.max(0, ...days.map((d) => d.total)));
  const step = (width - left) / Math.max(1, days.length);
  const y = (n) => top + (height - top - bottom) * (1 - n / max);
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'chart' });
  for (const tick of [0, max / 2, max]) {
    svg.append(el('line', { x1: left, x2: width, y1: y(tick), y2: y(tick), class: 'grid' }),
      el('text', { x: left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'axis' }, String(tick)));
  }
  days.forEach((day, index) => {
    let base = 0;
    const group = el('g', {}, title(`${day.date}: ${day.total} events`));
    for (const s of series) {
      const n = day.by_category[s.id] || 0;
      if (!n) continue;
      group.append(el('rect', { x: left + index * step + 1, width: Math.max(1, step - 2), y: y(base + n),
        height: y(base) - y(base + n), fill: s.colour }, title(`${day.date} · ${s.name}: ${n}`)));
      base += n;
    }
    svg.append(group);
    if (index % Math.ceil(days.length / 6) === 0) {
      svg.append(el('text', { x: left + index * step + step / 2, y: height - 8, 'text-anchor': 'middle',
        class: 'axis' }, day.date.slice(5)));
    }
  });
  return svg;
}

// A small line of daily counts, its figures in its label.
export function sparkline(values, label) {
  const width = 120, height = 24, max = Math.max(1, ...values);
  const x = (i) => (width - 2) * i / Math.max(1, values.length - 1) + 1;
  const y = (n) => height - 2 - (height - 4) * n / max;
  const points = values.map((n, i) => `${x(i).toFixed(1)},${y(n).toFixed(1)}`).join(' ');
  return el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label,
    class: 'sparkline' }, el('polyline', { points, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }));
}

// The widest of these texts as an axis label, in user units: only the browser knows its font's widths, and
// a guess cuts a label off at the chart's edge.
function widest(texts) {
  const probe = el('svg', { class: 'chart visually-hidden', 'aria-hidden': 'true' },
    texts.map((text) => el('text', { class: 'axis' }, text)));
  document.body.append(probe);
  const width = Math.max(0, ...[...probe.children].map((text) => text.getComputedTextLength()));
  probe.remove();
  return width;
}

// Horizontal bars, one row per item [{label, value}], with the figure written at the end of each bar; the
// bars take what the names and the figures leave of the width.
export function horizontalBars(items, label, unit) {
  const rowHeight = 26, width = 720, gap = 6;
  const names = items.map((item) => item.label.slice(0, 24));
  const figures = items.map((item) => `${item.value.toFixed(2)} ${unit}`);
  const left = Math.ceil(widest(names)) + 2 * gap;
  const room = width - left - Math.ceil(widest(figures)) - 2 * gap;
  const max = Math.max(1e-9, ...items.map((item) => item.value));
  const svg = el('svg', { viewBox: `0 0 ${width} ${rowHeight * items.length + 8}`, role: 'img', 'aria-label': label,
    class: 'chart' });
  items.forEach((item, i) => {
    const length = room * item.value / max;
    svg.append(el('g', {}, title(`${item.label}: ${figures[i]}`),
      el('text', { x: left - gap, y: i * rowHeight + 18, 'text-anchor': 'end', class: 'axis' }, names[i]),
      el('rect', { x: left, y: i * rowHeight + 5, width: Math.max(1, length), height: rowHeight - 10, class: 'bar' }),
      el('text', { x: left + length + gap, y: i * rowHeight + 18, class: 'axis' }, figures[i])));
  });
  return svg;
}

// One time axis, lanes of spans and marks. lanes: [{name, spans: [{from, to, label}], marks: [{at, shape,
// label, href}]}]; times in ms. Marks are links (focusable, with their label): a keyboard reaches each one.
export function timeline(lanes, from, to, label) {
  const width = 900, left = 110, laneHeight = 34, top = 6, axis = 36;
  const span = Math.max(1, to - from);
  const x = (t) => left + (width - left - 10) * (t - from) / span;
  const height = top + lanes.length * laneHeight + axis;
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': label, class: 'chart timeline' });
  lanes.forEach((lane, i) => {
    const y = top + i * laneHeight;
    svg.append(el('text', { x: left - 8, y: y + 21, 'text-anchor': 'end', class: 'lane-name' }, lane.name),
      el('line', { x1: left, x2: width - 10, y1: y + laneHeight / 2, y2: y + laneHeight / 2, class: 'grid' }));
    for (const s of lane.spans || []) {
      svg.append(el('rect', { x: x(s.from), width: Math.max(2, x(s.to) - x(s.from)), y: y + 8, height: laneHeight - 16,
        class: 'span' }, title(s.label)));
    }
    for (const m of lane.marks || []) {
      const cx = x(m.at), cy = y + laneHeight / 2;
      const shapes = {
        cross: () => el('path', { d: `M${cx - 6},${cy - 6}L${cx + 6},${cy + 6}M${cx + 6},${cy - 6}L${cx - 6},${cy + 6}`,
          class: 'mark crash' }),
        triangle: () => el('path', { d: `M${cx},${cy - 7}L${cx + 7},${cy + 6}L${cx - 7},${cy + 6}Z`, class: 'mark deploy' }),
        diamond: () => el('path', { d: `M${cx},${cy - 7}L${cx + 7},${cy}L${cx},${cy + 7}L${cx - 7},${cy}Z`, class: 'mark scale' }),
        dot: () => el('circle', { cx, cy, r: 4, class: 'mark' }),
      };
      const link = el('a', { href: m.href, 'aria-label': m.label, class: m.className }, title(m.label),
        (shapes[m.shape] || shapes.dot)());
      svg.append(link);
    }
  });
  // Each tick's date above its time: on one line, the first and last (held inside the chart by their
  // anchors) ran into their neighbours.
  const ticks = 5;
  for (let i = 0; i <= ticks; i++) {
    const t = from + span * i / ticks, at = x(t);
    const [date, time] = new Date(t).toISOString().slice(0, 16).split('T');
    svg.append(el('text', { x: at, y: height - 20, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle',
      class: 'axis' }, el('tspan', { x: at }, date), el('tspan', { x: at, dy: 14 }, time)));
  }
  return svg;
}

// A legend's colour sample (an SVG fill, not an inline style, which the console's CSP refuses).
export function swatch(colour) {
  return el('svg', { viewBox: '0 0 10 10', width: 14, height: 14, class: 'swatch', 'aria-hidden': 'true' },
    el('rect', { width: 10, height: 10, fill: colour }));
}
