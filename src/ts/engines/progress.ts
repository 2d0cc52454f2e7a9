/**
 * Progress output: a bar with ETA redrawn in place on a terminal, plain lines otherwise (CI logs,
 * pipes). Writes to a stream (stderr by default) so stdout stays clean for results.
 */
export interface ProgressReporter {
  /** Step `done` of `total` within the current epoch. */
  step(done: number, total: number, text: string): void;
  /** A line that stays (per-epoch summary, warnings). */
  line(text: string): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds - m * 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function createProgress(stream: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean } = process.stderr, quiet = false): ProgressReporter {
  const tty = Boolean((stream as NodeJS.WriteStream).isTTY) && !process.env.CI;
  let barShown = false;
  return {
    step(done, total, text) {
      if (quiet || !tty) return;
      const width = 24;
      const filled = Math.round((width * done) / Math.max(1, total));
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${text}\x1b[K`);
      barShown = true;
    },
    line(text) {
      if (quiet) return;
      if (barShown) {
        stream.write('\r\x1b[K');
        barShown = false;
      }
      stream.write(text + '\n');
    },
  };
}
