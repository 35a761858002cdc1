import type { LabelSelector } from './pool-types.js';

/**
 * Kubernetes label-selector semantics: every matchLabels pair and every
 * matchExpressions requirement must hold; an empty or absent selector
 * matches everything.
 */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const matchLabels = selector.matchLabels;
  // A plan tests every pod against every pool: no array of entries per test.
  if (matchLabels) {
    for (const key in matchLabels) {
      if (Object.prototype.hasOwnProperty.call(matchLabels, key) && labels[key] !== matchLabels[key]) return false;
    }
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
