/** A small SVG chart of training loss and validation Dice over epochs, written beside metrics.jsonl. */
export interface EpochMetrics {
  epoch: number;
  loss: number;
  lr: number;
  dice?: number | null;
  epochSeconds: number;
  stepSeconds: number;
  voxelsPerSecond: number;
}

function polyline(points: Array<[number, number]>, color: string): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return (
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${d}"/>` +
    points.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${color}"/>`).join('')
  );
}

/** Loss (left axis, 0..max) and Dice (right axis, 0..1) against epoch. */
export function metricsChartSvg(rows: EpochMetrics[], title: string): string {
  const w = 720,
    h = 360,
    left = 60,
    right = 60,
    top = 40,
    bottom = 50;
  const pw = w - left - right,
    ph = h - top - bottom;
  const maxEpoch = Math.max(1, ...rows.map((r) => r.epoch));
  const maxLoss = Math.max(1e-6, ...rows.map((r) => r.loss).filter(Number.isFinite));
  const x = (e: number) => left + (pw * (e - (rows.length > 1 ? 1 : 0))) / Math.max(1, maxEpoch - (rows.length > 1 ? 1 : 0));
  const yLoss = (v: number) => top + ph * (1 - v / maxLoss);
  const yDice = (v: number) => top + ph * (1 - v);
  const loss = rows.filter((r) => Number.isFinite(r.loss)).map((r) => [x(r.epoch), yLoss(r.loss)] as [number, number]);
  const dice = rows.filter((r) => typeof r.dice === 'number' && Number.isFinite(r.dice)).map((r) => [x(r.epoch), yDice(r.dice as number)] as [number, number]);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const grid = ticks
    .map((t) => {
      const y = top + ph * (1 - t);
      return (
        `<line x1="${left}" x2="${left + pw}" y1="${y}" y2="${y}" stroke="#ddd"/>` +
        `<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#c0392b">${(t * maxLoss).toPrecision(2)}</text>` +
        `<text x="${left + pw + 6}" y="${y + 4}" font-size="11" fill="#2471a3">${t.toFixed(2)}</text>`
      );
    })
    .join('');
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    grid,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#333"/>`,
    `<line x1="${left}" x2="${left + pw}" y1="${top + ph}" y2="${top + ph}" stroke="#333"/>`,
    `<text x="${left + pw / 2}" y="${h - 12}" text-anchor="middle" font-size="12">epoch (1..${maxEpoch})</text>`,
    `<text x="16" y="${top + ph / 2}" font-size="12" fill="#c0392b" transform="rotate(-90 16 ${top + ph / 2})" text-anchor="middle">training loss</text>`,
    `<text x="${w - 14}" y="${top + ph / 2}" font-size="12" fill="#2471a3" transform="rotate(90 ${w - 14} ${top + ph / 2})" text-anchor="middle">validation Dice</text>`,
    polyline(loss, '#c0392b'),
    polyline(dice, '#2471a3'),
    '</svg>',
  ].join('\n');
}
