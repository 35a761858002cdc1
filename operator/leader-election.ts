import { CoordinationV1Api, KubeConfig, V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import type { KubeRequestCounter } from './kube-metrics.js';

export interface LeaseRecord {
  holder: string;
  leaseDurationSeconds: number;
  renewTime?: Date;
  transitions: number;
}

export interface LeaseTiming {
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

/**
 * client-go's rule: another holder's lease is expired when its record has not
 * changed for a lease duration, measured on this replica's own clock from
 * when it last saw the record change, so clocks need not agree.
 */
export function canAcquire(record: LeaseRecord | undefined, identity: string, observedAtMs: number, nowMs: number): boolean {
  if (!record || record.holder === '' || record.holder === identity) return true;
  return nowMs - observedAtMs > record.leaseDurationSeconds * 1000;
}

const status = (err: unknown) => (err as { code?: number }).code;

/**
 * Leader election on a coordination.k8s.io/v1 Lease: acquire when free or
 * expired, renew every retry period, step down when renewing has failed for
 * the renew deadline, release on shutdown so a successor need not wait.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private leading = false;
  private lastRenewMs = 0;
  private observed: { key: string; atMs: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
    private readonly identity: string,
    private readonly timing: LeaseTiming,
    private readonly callbacks: { onStartedLeading(): void; onStoppedLeading(): void },
    private readonly logger: Logger,
    private readonly count: KubeRequestCounter = () => undefined,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      await this.tryAcquireOrRenew();
      if (!this.stopped) this.timer = setTimeout(loop, this.timing.retryPeriodSeconds * 1000);
    };
    void loop();
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.logger.info(leading ? 'became leader' : 'stopped leading', { lease: this.name, identity: this.identity });
    if (leading) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  private toRecord(lease: V1Lease): LeaseRecord {
    return {
      holder: lease.spec?.holderIdentity ?? '',
      leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? this.timing.leaseDurationSeconds,
      renewTime: lease.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string) : undefined,
      transitions: lease.spec?.leaseTransitions ?? 0,
    };
  }

  async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    try {
      let lease: V1Lease | undefined;
      try {
        this.count('get', 'leases');
        lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      } catch (err) {
        if (status(err) !== 404) throw err;
      }
      if (!lease) {
        this.count('create', 'leases');
        await this.api.createNamespacedLease({ namespace: this.namespace, body: this.leaseBody(undefined, 0, now) });
        this.lastRenewMs = now;
        this.setLeading(true);
        return;
      }
      const record = this.toRecord(lease);
      const key = `${record.holder}|${record.renewTime?.toISOString() ?? ''}`;
      if (!this.observed || this.observed.key !== key) this.observed = { key, atMs: now };
      if (!canAcquire(record, this.identity, this.observed.atMs, now)) {
        this.setLeading(false);
        return;
      }
      const transitions = record.holder === this.identity ? record.transitions : record.transitions + 1;
      this.count('update', 'leases');
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.leaseBody(lease, transitions, now) });
      this.lastRenewMs = now;
      this.setLeading(true);
    } catch (err) {
      // A conflict means another replica wrote first: not an error, just not us.
      if (status(err) !== 409) this.logger.warn('lease update failed', { lease: this.name, error: (err as Error).message });
      if (this.leading && Date.now() - this.lastRenewMs > this.timing.renewDeadlineSeconds * 1000) this.setLeading(false);
      if (!this.leading) this.setLeading(false);
    }
  }

  private leaseBody(existing: V1Lease | undefined, transitions: number, nowMs: number): V1Lease {
    const now = new V1MicroTime(nowMs);
    const holder = existing?.spec?.holderIdentity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, resourceVersion: existing?.metadata?.resourceVersion },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.timing.leaseDurationSeconds,
        acquireTime: holder === this.identity && existing?.spec?.acquireTime ? existing.spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: transitions,
      },
    };
  }

  /** Stops campaigning; if leading, hands the lease back so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      lease.spec.holderIdentity = '';
      lease.spec.leaseDurationSeconds = 1;
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: lease });
    } catch (err) {
      this.logger.warn('could not release the lease', { lease: this.name, error: (err as Error).message });
    }
  }
}
