export type Provider = 'twilio' | 'plivo' | 'exotel';

/** Call states after which the call is over and its slot can be freed. */
const TERMINAL: Record<Provider, ReadonlySet<string>> = {
  twilio: new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']),
  plivo: new Set(['completed', 'busy', 'failed', 'timeout', 'no-answer', 'cancel', 'canceled', 'hangup']),
  exotel: new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']),
};

/** States a call passes through before it ends: a callback with one of them changes nothing. */
const ONGOING: Record<Provider, ReadonlySet<string>> = {
  twilio: new Set(['queued', 'initiated', 'ringing', 'in-progress']),
  plivo: new Set(['queued', 'ringing', 'in-progress', 'early-media']),
  exotel: new Set(['queued', 'ringing', 'in-progress', 'answered']),
};

const normalize = (status: string | undefined) => status?.trim().toLowerCase() ?? '';

export function isTerminalStatus(provider: Provider, status: string | undefined): boolean {
  return TERMINAL[provider].has(normalize(status));
}

/**
 * The status as a metric label: a state the provider documents, `other` for
 * anything else, `` when absent. Labels come from a fixed set, so a caller
 * cannot grow the metric without bound by inventing statuses.
 */
export function statusLabel(provider: Provider, status: string | undefined): string {
  const s = normalize(status);
  if (s === '') return '';
  return TERMINAL[provider].has(s) || ONGOING[provider].has(s) ? s : 'other';
}
