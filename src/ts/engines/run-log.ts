/** A stage's run log: metrics.jsonl and metrics.svg, rewritten atomically after every epoch, and the per-epoch line. */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { writeBytesAtomic } from '../io/atomic-write';
import { EpochMetrics, metricsChartSvg } from './chart';

export class RunLog {
  private readonly metricsPath: string;
  private readonly chartPath: string;

  private constructor(
    outDir: string,
    private readonly title: string,
    readonly rows: EpochMetrics[],
  ) {
    this.metricsPath = nodePath.join(outDir, 'metrics.jsonl');
    this.chartPath = nodePath.join(outDir, 'metrics.svg');
  }

  /** Opens the log of `outDir`, keeping only the epochs up to `throughEpoch` (a resumed log has no duplicates). */
  static async open(outDir: string, kind: string, throughEpoch: number): Promise<RunLog> {
    let rows: EpochMetrics[] = [];
    try {
      rows = (await fsp.readFile(nodePath.join(outDir, 'metrics.jsonl'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as EpochMetrics)
        .filter((r) => r.epoch <= throughEpoch);
    } catch {
      rows = [];
    }
    return new RunLog(outDir, `liverseg ${kind}: loss and validation Dice`, rows);
  }

  async append(row: EpochMetrics): Promise<void> {
    this.rows.push(row);
    await writeBytesAtomic(this.metricsPath, Buffer.from(this.rows.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    await writeBytesAtomic(this.chartPath, Buffer.from(metricsChartSvg(this.rows, this.title)));
  }
}

/** The report's per-epoch line: loss, lr, step and epoch time, and validation Dice with the best so far. */
export function epochLine(kind: string, epochs: number, row: EpochMetrics, best: { dice: number | null; epoch: number | null }): string {
  return (
    `[${kind}] epoch ${row.epoch}/${epochs} average loss: ${row.loss.toFixed(4)} lr: ${row.lr} step time: ${row.stepSeconds.toFixed(3)}s epoch time: ${row.epochSeconds.toFixed(1)}s` +
    (row.dice !== null && row.dice !== undefined ? ` val Dice: ${row.dice.toFixed(4)} (best ${best.dice!.toFixed(4)} at epoch ${best.epoch})` : '')
  );
}
