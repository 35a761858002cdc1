export type Provider = 'twilio' | 'plivo' | 'exotel';

/** Call states after which the call is over and its slot can be freed. */
const TERMINAL: Record<Provider, ReadonlySet<string>> = {
  twilio: new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']),
  plivo: new Set(['completed', 'busy', 'failed', 'timeout', 'no-answer', 'cancel', 'canceled', 'hangup']),
  exotel: new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']),
};

export function isTerminalStatus(provider: Provider, status: string | undefined): boolean {
  return status !== undefined && TERMINAL[provider].has(status.trim().toLowerCase());
}
