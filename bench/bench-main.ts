/**
 * Runs a benchmark's `main`: a failure prints its stack and exits 1. With
 * `exitWhenDone`, success exits 0 at once as well, for benchmarks whose
 * watches or clients would otherwise keep the process alive.
 */
export function runBench(main: () => Promise<unknown>, options: { exitWhenDone?: boolean } = {}): void {
  main().then(
    () => {
      if (options.exitWhenDone) process.exit(0);
    },
    (err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(1);
    },
  );
}
