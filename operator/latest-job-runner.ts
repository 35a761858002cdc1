/**
 * Runs one job at a time and, of the jobs offered meanwhile, only the latest:
 * a job describes the whole desired state, so an older one waiting is
 * superseded, never queued. `work` must not throw.
 */
export class LatestJobRunner<T> {
  private latest: T | undefined;
  private running: Promise<void> | undefined;
  private active = true;

  constructor(private readonly work: (job: T) => Promise<void>) {}

  offer(job: T): void {
    if (!this.active) return;
    this.latest = job;
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.latest !== undefined && this.active) {
      const job = this.latest;
      this.latest = undefined;
      await this.work(job);
    }
    this.running = undefined;
  }

  /** Resolves once no job runs or waits. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  start(): void {
    this.active = true;
  }

  /** Drops the waiting job and waits for the one in flight. */
  async stop(): Promise<void> {
    this.active = false;
    this.latest = undefined;
    await this.settled();
  }
}
