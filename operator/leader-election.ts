import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import { statusCode } from './kube-client.js';
import { LeaseCampaign, type LeaseAction, type LeaseRecord, type LeaseTiming } from './lease-campaign.js';

export interface LeadershipCallbacks {
  /** This replica now holds the lease (with these leaseTransitions): start reconciling. */
  onStartedLeading(lease: { transitions: number }): void;
  /** This replica no longer holds the lease: stop reconciling; resolves once stopped. */
  onStoppedLeading(reason: string): Promise<void>;
}

const time = (t: Date | string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

function toRecord(lease: V1Lease, fallbackDuration: number): LeaseRecord {
  return {
    holder: lease.spec?.holderIdentity ?? '',
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? fallbackDuration,
    acquireTime: time(lease.spec?.acquireTime),
    renewTime: time(lease.spec?.renewTime),
    transitions: lease.spec?.leaseTransitions ?? 0,
  };
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules
 * (see LeaseCampaign): acquire when free or expired, renew every retry
 * period, stop leading when renewing has failed for the renew deadline, and
 * hand the lease back on shutdown so a successor need not wait it out. Every
 * write carries the resourceVersion it read (optimistic concurrency): of two
 * replicas racing for the lease, one gets 409 Conflict and stays a follower.
 */
export class LeaderElector {
  private readonly campaign: LeaseCampaign;
  /** The lease as last read or written: its resourceVersion makes the next write conditional. */
  private lease: V1Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private attempt: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly namespace: string,
    private readonly name: string,
    identity: string,
    private readonly timing: LeaseTiming,
    private readonly callbacks: LeadershipCallbacks,
    private readonly logger: Logger,
  ) {
    this.campaign = new LeaseCampaign(identity, timing);
  }

  isLeader(): boolean {
    return this.campaign.leading;
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.attempt = this.tryAcquireOrRenew().finally(() => {
        // Followers retry with a little jitter, so replicas started together do not collide every time.
        const jitter = this.campaign.leading ? 1 : 1 + Math.random() * 0.2;
        if (!this.stopped) this.timer = setTimeout(loop, this.timing.retryPeriodSeconds * 1000 * jitter);
      });
    };
    loop();
  }

  private body(record: LeaseRecord, resourceVersion: string | undefined): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, resourceVersion },
      spec: {
        holderIdentity: record.holder,
        leaseDurationSeconds: record.leaseDurationSeconds,
        acquireTime: record.acquireTime ? new V1MicroTime(record.acquireTime) : undefined,
        renewTime: record.renewTime ? new V1MicroTime(record.renewTime) : undefined,
        leaseTransitions: record.transitions,
      },
    };
  }

  private async write(action: Exclude<LeaseAction, 'wait'>, record: LeaseRecord | undefined, sentAtMs: number): Promise<void> {
    const next = this.campaign.desired(record, action, sentAtMs);
    const body = this.body(next, this.lease?.metadata?.resourceVersion);
    this.lease =
      action === 'create'
        ? await this.api.createNamespacedLease({ namespace: this.namespace, body })
        : await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body });
    if (this.campaign.succeeded(next, sentAtMs)) {
      this.logger.info('became leader', { lease: this.name, identity: this.campaign.identity, transitions: next.transitions });
      this.callbacks.onStartedLeading({ transitions: next.transitions });
    }
    this.armWatchdog();
  }

  /** Leadership ends at the renew deadline unless a renewal lands first, even if a request hangs. */
  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const deadline = this.campaign.deadlineMs();
    if (deadline === undefined) return;
    this.watchdog = setTimeout(() => {
      if (this.campaign.overdue(Date.now())) void this.stepDown('the lease was not renewed within the renew deadline');
    }, Math.max(0, deadline - Date.now()) + 1);
  }

  private async stepDown(reason: string): Promise<void> {
    clearTimeout(this.watchdog);
    if (!this.campaign.stepDown()) return;
    this.logger.warn('stopped leading', { lease: this.name, identity: this.campaign.identity, reason });
    await this.callbacks.onStoppedLeading(reason);
  }

  /**
   * Stops leading without touching the Lease: Redis refused a write because
   * another replica began a later term. If the Lease is still ours after all,
   * the next renewal starts a new term.
   */
  async resign(reason: string): Promise<void> {
    await this.stepDown(reason);
  }

  async tryAcquireOrRenew(): Promise<void> {
    const sentAtMs = Date.now();
    try {
      // Renewing needs no read while the lease we last wrote is current; a conflict means it is not.
      if (this.campaign.leading && this.lease) {
        try {
          await this.write('renew', toRecord(this.lease, this.timing.leaseDurationSeconds), sentAtMs);
          return;
        } catch (err) {
          if (statusCode(err) !== 409) throw err;
        }
      }
      let lease: V1Lease | undefined;
      try {
        lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
      this.lease = lease;
      const record = lease ? toRecord(lease, this.timing.leaseDurationSeconds) : undefined;
      const action = this.campaign.decide(record, Date.now());
      if (action === 'wait') {
        await this.stepDown(`replica ${record?.holder} holds the lease`);
        return;
      }
      await this.write(action, record, sentAtMs);
    } catch (err) {
      // A conflict means another replica wrote first: not an error, just not us this time.
      if (statusCode(err) !== 409) this.logger.warn('lease update failed', { lease: this.name, error: (err as Error).message });
      if (this.campaign.overdue(Date.now())) await this.stepDown('the lease was not renewed within the renew deadline');
    }
  }

  /** Stops campaigning; if leading, stops the leader's work first, then hands the lease back. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempt;
    clearTimeout(this.watchdog);
    if (!this.campaign.leading) return;
    await this.stepDown('shutting down');
    try {
      const record = this.lease ? toRecord(this.lease, this.timing.leaseDurationSeconds) : undefined;
      if (record?.holder !== this.campaign.identity) return;
      const body = this.body(this.campaign.released(record, Date.now()), this.lease?.metadata?.resourceVersion);
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body });
      this.logger.info('lease released', { lease: this.name, identity: this.campaign.identity });
    } catch (err) {
      this.logger.warn('could not release the lease', { lease: this.name, error: (err as Error).message });
    }
  }
}
