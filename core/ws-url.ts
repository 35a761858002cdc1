/** Values a ws_url template may use, as `{name}`. */
/** `{token}`: a stream token (core/stream-token.ts) the agent verifies, when WS_TOKEN_SECRET is set. */
export const WS_URL_PLACEHOLDERS = ['pod', 'call_sid', 'pool', 'merchant_id', 'provider', 'token'] as const;
export type WsUrlPlaceholder = (typeof WS_URL_PLACEHOLDERS)[number];
export type WsUrlValues = Partial<Record<WsUrlPlaceholder, string>>;

const PLACEHOLDER = /\{([a-z_]+)\}/g;

/** Returns why a template is unusable, or undefined when it is fine. */
export function checkWsUrlTemplate(template: string): string | undefined {
  if (!/^wss?:\/\/[^/{}\s]+/.test(template) && !/^wss?:\/\/\{/.test(template)) {
    return 'must start with ws:// or wss:// and a host';
  }
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (!(WS_URL_PLACEHOLDERS as readonly string[]).includes(match[1] as string)) {
      return `unknown placeholder {${match[1]}}; known: ${WS_URL_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`;
    }
  }
  return undefined;
}

/**
 * Fills a template such as `wss://voice.example.com/ws/pod/{pod}/{call_sid}`.
 * Every value is percent-encoded, so nothing from a request can add a path
 * segment, a query or a fragment; a missing value becomes empty.
 */
export function buildWsUrl(template: string, values: WsUrlValues): string {
  return template.replace(PLACEHOLDER, (_whole, name: string) =>
    encodeURIComponent(values[name as WsUrlPlaceholder] ?? ''),
  );
}

/** {@link buildWsUrl} for one template, split once: what the router calls for every allocation. */
export function wsUrlBuilder(template: string): (values: WsUrlValues) => string {
  // Even indexes: literal text; odd indexes: placeholder names.
  const parts = template.split(PLACEHOLDER);
  return (values) => {
    let url = parts[0] as string;
    for (let i = 1; i < parts.length; i += 2) url += encodeURIComponent(values[parts[i] as WsUrlPlaceholder] ?? '') + (parts[i + 1] as string);
    return url;
  };
}
