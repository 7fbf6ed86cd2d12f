/** Unit tests of the bench's measurement code: percentiles, sparse histograms, E-model, the probe's RFC 3550 stream statistics. */
import t from 'tap';
import { percentile, sparsePercentile, mergeSparse, eModel } from '../../bench/load/stats.js';
import { StreamStats } from '../../bench/load/probe.js';
import { fitSlope } from '../../bench/load/ivr.js';
import { lineChart } from '../../bench/load/svg.js';

function rtp(seq: number, ts: number): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80; b[1] = 8;
  b.writeUInt16BE(seq & 0xffff, 2); b.writeUInt32BE(ts >>> 0, 4); b.writeUInt32BE(0x1234, 8);
  return b;
}

t.test('percentiles', async (t) => {
  t.equal(percentile([], 0.5), null);
  t.equal(percentile([5, 1, 3, 2, 4], 0.5), 3);
  t.equal(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99), 99);
  const h = mergeSparse([[[0, 10], [5, 1]], [[5, 1], [30, 1]]]);
  t.same(h, [[0, 10], [5, 2], [30, 1]]);
  t.equal(sparsePercentile(h, 0.5, -2, 0.1)!.toFixed(1), '-1.9');
  t.equal(sparsePercentile(h, 0.99, -2, 0.1)!.toFixed(1), '1.1');
  t.equal(sparsePercentile([], 0.99, 0, 1), null);
});

t.test('E-model: G.711, no loss, short delay is ~4.4; loss and delay lower it', async (t) => {
  const best = eModel(20, 0);
  t.ok(best.mos > 4.3 && best.mos <= 4.5, `MOS ${best.mos}`);
  t.equal(best.r, 92.72);
  t.ok(eModel(20, 5).mos < best.mos - 0.3, 'loss lowers MOS');
  t.ok(eModel(300, 0).mos < best.mos - 0.3, 'delay beyond 177 ms lowers MOS');
  t.equal(eModel(5000, 50).mos, 1);
});

t.test('RFC 3550 stream statistics: perfect stream, loss, duplicates, reordering, wrap', async (t) => {
  const s = new StreamStats();
  for (let i = 0; i < 100; i++) s.onPacket(rtp(65500 + i, i * 160), 1000 + i * 20);
  t.equal(s.packets, 100); t.equal(s.expected(), 100); t.equal(s.dups, 0); t.equal(s.ooo, 0);
  t.ok(s.j < 0.01, 'no jitter on a perfect grid');
  t.equal(s.delayVarP99()!.toFixed(1), '0.1');

  const l = new StreamStats();
  const order = [0, 1, 2, 4, 3, 3, 6, 7, 9];
  order.forEach((q, k) => l.onPacket(rtp(q, q * 160), 1000 + k * 20 + (k === 4 ? 7 : 0)));
  t.equal(l.dups, 1, 'one duplicate');
  t.equal(l.ooo, 1, 'one out of order');
  t.equal(l.expected(), 10);
  t.equal(l.expected() - l.packets, 2, 'two lost (5 and 8)');
  t.ok(l.j > 0, 'jitter from a late packet');
  t.ok(l.gapMax >= 7, 'inter-arrival error seen');

  const bad = new StreamStats();
  bad.onPacket(Buffer.from([1, 2, 3]), 0);
  bad.onPacket(Buffer.alloc(20), 0);
  t.equal(bad.packets, 0, 'garbage ignored');
});

t.test('slope and chart', async (t) => {
  t.equal(fitSlope([[10, 100], [20, 101], [30, 102]]), 0.1);
  t.equal(fitSlope([[10, 100]]), null);
  const svg = lineChart({ title: 'a<b', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, 2], [2, null], [3, 4]] }] });
  t.match(svg, /^<svg/); t.match(svg, /a&lt;b/); t.match(svg, /some steps not measured/);
});
