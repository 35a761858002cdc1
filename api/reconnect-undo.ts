import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';

/** Attempts kept for undoing at most; past it, the oldest are forgotten (with a warning). */
const MAX_PENDING = 10_000;

/**
 * Undoes allocation attempts whose connection dropped while they were in
 * flight, once Redis is reachable again. Such an attempt may have run
 * (the master took the slot, replicated it, and died before its reply came
 * back, or the network cut the reply): the client was answered 503, so the
 * slot must be given back. The undo (abandon-2.lua) frees the slot only if
 * the call still carries this attempt's token, and a later attempt that
 * hands the call to a client clears that token, so an undo that comes late
 * never takes a call away from a client who was told it holds it.
 * After a failover the undo runs on the new master: an attempt the old
 * master ran and lost is nothing there, and the undo changes nothing.
 */
export class ReconnectUndo {
  private readonly pending = new Map<string, string>();
  private armed = false;

  constructor(
    private readonly store: RoutingStore,
    private readonly logger: Logger,
  ) {}

  /** Remembers attempt `token` of `callSid` for the next time the client is ready. */
  add(callSid: string, token: string): void {
    if (this.pending.size >= MAX_PENDING) {
      const [oldest] = this.pending;
      if (oldest) this.pending.delete(oldest[0]);
      this.logger.warn('too many allocation attempts waiting for Redis to be undone: the oldest is forgotten', { call_sid: oldest?.[1] });
    }
    this.pending.set(token, callSid);
    if (!this.armed) {
      this.armed = true;
      this.store.redis.once('ready', () => {
        this.armed = false;
        void this.flush();
      });
    }
  }

  /** How many attempts wait for Redis. */
  get size(): number {
    return this.pending.size;
  }

  private async flush(): Promise<void> {
    const batch = [...this.pending];
    this.pending.clear();
    await Promise.all(
      batch.map(async ([token, callSid]) => {
        try {
          if (await this.store.abandon(callSid, token)) this.logger.info('allocation whose reply was lost undone after reconnecting', { call_sid: callSid });
        } catch (err) {
          // Dropped again: keep it for the next reconnect.
          this.logger.warn('could not undo an allocation whose reply was lost; trying again at the next reconnect', { call_sid: callSid, error: (err as Error).message });
          this.add(callSid, token);
        }
      }),
    );
  }
}
