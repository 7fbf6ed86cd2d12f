/** A hand-written SVG line chart: x/y axes with round ticks, one polyline + dots per series, a legend. */

export interface Series { name: string; points: Array<[number, number | null]>; dashed?: boolean }

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function niceStep(range: number, ticks: number): number {
  const raw = range / Math.max(1, ticks);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function esc(s: string): string { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }

function fmt(v: number): string { return Math.abs(v) >= 1000 ? v.toLocaleString('en-US') : String(Math.round(v * 100) / 100); }

export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: Series[]; width?: number; height?: number; yMin?: number; hLine?: { y: number; label: string } }): string {
  const W = o.width ?? 640; const H = o.height ?? 360;
  const L = 64; const R = 16; const T = 36; const B = 48;
  const pts = o.series.flatMap((s) => s.points.filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1])));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  if (o.hLine) ys.push(o.hLine.y);
  let x0 = xs.length ? Math.min(...xs) : 0; let x1 = xs.length ? Math.max(...xs) : 1;
  if (x1 === x0) { x0 = Math.max(0, x0 - 1); x1 = x1 + 1; }
  let y0 = o.yMin ?? Math.min(0, ...(ys.length ? ys : [0])); let y1 = ys.length ? Math.max(...ys) : 1;
  if (y1 <= y0) y1 = y0 + 1;
  const ys1 = niceStep(y1 - y0, 5); y1 = Math.ceil(y1 / ys1) * ys1; y0 = Math.floor(y0 / ys1) * ys1;
  const xs1 = niceStep(x1 - x0, 6);
  const px = (x: number): number => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number): number => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  for (let y = y0; y <= y1 + ys1 / 1e6; y += ys1) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${fmt(y)}</text>`);
  }
  for (let x = Math.ceil(x0 / xs1) * xs1; x <= x1 + xs1 / 1e6; x += xs1) {
    out.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${H - B}" y2="${H - B + 4}" stroke="#333"/>`);
    out.push(`<text x="${px(x).toFixed(1)}" y="${H - B + 17}" text-anchor="middle">${fmt(x)}</text>`);
  }
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  if (o.hLine) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${py(o.hLine.y).toFixed(1)}" y2="${py(o.hLine.y).toFixed(1)}" stroke="#888" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${W - R - 4}" y="${(py(o.hLine.y) - 4).toFixed(1)}" text-anchor="end" fill="#666">${esc(o.hLine.label)}</text>`);
  }
  o.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const good = s.points.filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]));
    if (good.length > 1) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${good.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const p of good) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${c}"><title>${esc(s.name)}: ${fmt(p[0])}, ${fmt(p[1])}</title></circle>`);
    const ly = T + 6 + i * 16;
    out.push(`<line x1="${L + 10}" x2="${L + 30}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${L + 36}" y="${ly + 4}">${esc(s.name)}${good.length < s.points.length ? ' (some steps not measured)' : ''}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
