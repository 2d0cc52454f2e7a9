/** What a training run shows a person: durations in progress lines and the metrics chart. */
import { metricsChartSvg, EpochMetrics } from '../../src/ts/engines/chart';
import { formatDuration } from '../../src/ts/engines/progress';
import { epochLine } from '../../src/ts/engines/run-log';

const row = (epoch: number, loss: number, dice: number | null): EpochMetrics => ({
  epoch,
  loss,
  lr: 0.01,
  dice,
  epochSeconds: 2,
  stepSeconds: 0.5,
  voxelsPerSecond: 1e5,
});

describe('formatDuration', () => {
  it.each([
    [0.25, '0.3s'],
    [9.94, '9.9s'],
    [42.4, '42s'],
    [61, '1m01s'],
    [3599, '59m59s'],
    [3600, '1h00m'],
    [7384, '2h03m'],
  ])('%p s -> %p', (s, text) => expect(formatDuration(s)).toBe(text));

  it('prints ? for an unknown duration', () => {
    expect(formatDuration(Number.NaN)).toBe('?');
    expect(formatDuration(Infinity)).toBe('?');
  });
});

describe('metricsChartSvg', () => {
  const rows = [row(1, 0.9, null), row(2, 0.6, 0.5), row(3, 0.3, null), row(4, 0.2, 0.8)];
  const svg = metricsChartSvg(rows, 'liverseg fine: loss & Dice');

  it('is one SVG document with the title escaped', () => {
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('loss &amp; Dice');
  });

  it('draws one loss point per epoch and one Dice point per validated epoch', () => {
    const lines = [...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
    expect(lines).toEqual([4, 2]);
  });

  it('puts a lower loss higher on the chart (smaller y)', () => {
    const loss = [...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)][0][1].split(' ').map((p) => Number(p.split(',')[1]));
    for (let i = 1; i < loss.length; i++) expect(loss[i]).toBeGreaterThan(loss[i - 1]);
  });

  it('handles an empty run and a run of one epoch', () => {
    expect(metricsChartSvg([], 'empty')).toContain('<svg');
    expect(metricsChartSvg([row(1, 0.5, 0.7)], 'one')).toContain('<polyline');
  });
});

describe('epochLine', () => {
  it("has the report's fields, and the best Dice when validated", () => {
    expect(epochLine('coarse', 20, row(5, 0.1234, 0.9), { dice: 0.91, epoch: 3 })).toBe(
      '[coarse] epoch 5/20 average loss: 0.1234 lr: 0.01 step time: 0.500s epoch time: 2.0s val Dice: 0.9000 (best 0.9100 at epoch 3)',
    );
    expect(epochLine('fine', 20, row(6, 0.1, null), { dice: 0.91, epoch: 3 })).not.toContain('val Dice');
  });
});
