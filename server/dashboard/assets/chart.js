// chart.js draws line charts as inline SVG: no library, nothing fetched.
import { h, svg } from './dom.js';

const PAD = { left: 48, right: 16, top: 16, bottom: 32 };

// niceMax rounds a maximum up so the four grid steps are 1, 2 or 5 times a
// power of ten: the axis then reads 0, 5, 10, 15, 20 rather than 0, 3.8, ...
function niceMax(v) {
  if (!(v > 0)) return 4;
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return 4 * m * p;
  return 40 * p;
}

// lineChart plots series over points. points: [{label, values: {key: n}}];
// series: [{key, label, color}]; unit is appended to the axis values;
// width and height are the drawing's proportions (it scales to its box). A
// missing value (null) leaves a gap.
export function lineChart({ title, points, series, unit = '', width: W = 720, height: H = 240 }) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const max = niceMax(Math.max(0, ...points.flatMap((p) => series.map((s) => p.values[s.key] ?? 0))));
  const x = (i) => PAD.left + (points.length <= 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const y = (v) => PAD.top + plotH - (v / max) * plotH;

  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => [
    svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(f * max), y2: y(f * max), class: 'grid' }),
    svg('text', { x: PAD.left - 6, y: y(f * max) + 4, 'text-anchor': 'end', class: 'axis' }, `${+(f * max).toFixed(2)}${unit}`),
  ]);
  // About six labels along the bottom, whatever the number of points.
  const every = Math.max(1, Math.ceil(points.length / 6));
  const xLabels = points.map((p, i) => (i % every === 0
    ? svg('text', { x: x(i), y: H - 10, 'text-anchor': 'middle', class: 'axis' }, p.label) : null));

  const lines = series.map((s) => {
    let d = '';
    let pen = false;
    points.forEach((p, i) => {
      const v = p.values[s.key];
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    const dots = points.map((p, i) => {
      const v = p.values[s.key];
      return v === null || v === undefined ? null
        : svg('circle', { cx: x(i), cy: y(v), r: 3, fill: s.color }, svg('title', {}, `${s.label}, ${p.label}: ${+v.toFixed(2)}${unit}`));
    });
    return svg('g', { class: 'series', 'data-series': s.key },
      svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round' }), dots);
  });

  return h('figure', { class: 'chart' },
    h('figcaption', {}, h('strong', {}, title),
      h('span', { class: 'legend' }, series.map((s) => h('span', { class: 'key' },
        svg('svg', { width: 12, height: 12, 'aria-hidden': 'true' }, svg('rect', { width: 12, height: 12, rx: 3, fill: s.color })), s.label)))),
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'plot' },
      grid, xLabels,
      svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: 'baseline' }),
      lines));
}
