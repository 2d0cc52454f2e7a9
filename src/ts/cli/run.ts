/** What every CLI shares: one-line failures with a non-zero exit, and usage errors. */
import { isLiversegError } from '../errors';

export class UsageError extends Error {}

/**
 * Runs a CLI's main; on failure prints `<name>: <reason> (<code>)` on one line and exits 1
 * (2 for usage mistakes). Set LIVERSEG_DEBUG=1 for the stack.
 */
export function runCli(name: string, main: (argv: string[]) => Promise<number | void>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = typeof code === 'number' ? code : 0;
    },
    (e: unknown) => {
      const err = e as Error & { code?: string };
      if (process.env.LIVERSEG_DEBUG) process.stderr.write(`${err?.stack ?? String(e)}\n`);
      const reason = (err?.message ?? String(e)).split('\n')[0];
      if (e instanceof UsageError || (err as { code?: string })?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err?.code?.startsWith?.('ERR_PARSE_ARGS')) {
        process.stderr.write(`${name}: ${reason}\nTry '${name} --help'.\n`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`${name}: ${reason}${isLiversegError(e) ? ` (${e.code})` : ''}\n`);
      process.exitCode = 1;
    },
  );
}
