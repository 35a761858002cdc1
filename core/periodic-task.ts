/**
 * Runs `pass` every `intervalMs`, counted from the end of the previous pass,
 * so passes never overlap however long one takes. A failed pass goes to
 * `onFailed` and the next one runs on time; `stop` waits for a pass in flight.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onFailed: (err: Error) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.pass()
        .then(() => undefined)
        .catch((err: Error) => this.onFailed(err))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
