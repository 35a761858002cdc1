export interface LeaseTiming {
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

/** The fields of a coordination.k8s.io/v1 Lease that leader election reads and writes. */
export interface LeaseRecord {
  holder: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  transitions: number;
}

/**
 * - create: no Lease exists; create it, holding it.
 * - renew: we hold it; write a new renewTime.
 * - acquire: it is free (released) or its holder let it expire; take it.
 * - wait: another replica holds a live lease.
 */
export type LeaseAction = 'create' | 'renew' | 'acquire' | 'wait';

/**
 * The decisions of leader election, as client-go makes them, with the clock
 * passed in so they can be tested without waiting. A lease held by another
 * replica is expired when its record has not changed for its lease duration
 * as measured on this replica's own clock from when this replica saw it
 * change, so replicas' clocks need not agree. A leader that has not renewed
 * for the renew deadline (shorter than the lease duration) stops leading
 * before anyone else may take over.
 */
export class LeaseCampaign {
  private leadingNow = false;
  private observed: { key: string; atMs: number } | undefined;
  private lastRenewMs: number | undefined;

  constructor(
    readonly identity: string,
    readonly timing: LeaseTiming,
  ) {}

  get leading(): boolean {
    return this.leadingNow;
  }

  /** What to do about the lease as just read (undefined: there is none). */
  decide(record: LeaseRecord | undefined, nowMs: number): LeaseAction {
    if (!record) return 'create';
    const key = JSON.stringify(record);
    if (this.observed?.key !== key) this.observed = { key, atMs: nowMs };
    if (record.holder === this.identity) return 'renew';
    if (record.holder === '') return 'acquire';
    if (nowMs - this.observed.atMs > record.leaseDurationSeconds * 1000) return 'acquire';
    return 'wait';
  }

  /** The record to write for `action`, taken at `nowMs`. */
  desired(record: LeaseRecord | undefined, action: Exclude<LeaseAction, 'wait'>, nowMs: number): LeaseRecord {
    const now = new Date(nowMs).toISOString();
    const keep = action === 'renew' && record?.holder === this.identity;
    return {
      holder: this.identity,
      leaseDurationSeconds: this.timing.leaseDurationSeconds,
      acquireTime: keep && record?.acquireTime ? record.acquireTime : now,
      renewTime: now,
      transitions: !record ? 0 : keep || record.holder === this.identity ? record.transitions : record.transitions + 1,
    };
  }

  /** The record that hands the lease back: no holder, and a duration others need not wait out. */
  released(record: LeaseRecord | undefined, nowMs: number): LeaseRecord {
    const now = new Date(nowMs).toISOString();
    return { holder: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, transitions: record?.transitions ?? 0 };
  }

  /**
   * A write of `written` that was sent at `sentAtMs` succeeded: we lead, and
   * the renew deadline counts from when the request left, not when it came back.
   * Returns true when this starts a term of leadership.
   */
  succeeded(written: LeaseRecord, sentAtMs: number): boolean {
    const started = !this.leadingNow;
    this.leadingNow = true;
    this.lastRenewMs = sentAtMs;
    this.observed = { key: JSON.stringify(written), atMs: sentAtMs };
    return started;
  }

  /** When leadership must end unless a renewal succeeds first. */
  deadlineMs(): number | undefined {
    return this.leadingNow && this.lastRenewMs !== undefined ? this.lastRenewMs + this.timing.renewDeadlineSeconds * 1000 : undefined;
  }

  /** Whether, at `nowMs`, a leader must stop leading: its last renewal is older than the renew deadline. */
  overdue(nowMs: number): boolean {
    const deadline = this.deadlineMs();
    return deadline !== undefined && nowMs >= deadline;
  }

  /** Stops leading. Returns true when this ends a term of leadership. */
  stepDown(): boolean {
    const ended = this.leadingNow;
    this.leadingNow = false;
    return ended;
  }
}
