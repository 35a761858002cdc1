import { loadAll as loadAllYaml } from 'js-yaml';
import { DRAIN_ANNOTATION, type PodFacts, type Pool } from './pool-types.js';
import { validatePoolDocument } from './pool-validation.js';

export interface StandaloneFleet {
  pools: Pool[];
  pods: PodFacts[];
}

export class FleetFileError extends Error {
  override name = 'FleetFileError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

interface PodDocument {
  metadata?: { name?: unknown; labels?: unknown; annotations?: unknown; uid?: unknown };
  status?: { conditions?: { type?: unknown; status?: unknown }[] };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

function podFromDocument(doc: PodDocument, where: string, problems: string[]): PodFacts | undefined {
  const meta = doc.metadata ?? {};
  const name = meta.name;
  if (typeof name !== 'string' || !POD_NAME.test(name) || name.length > 253) {
    problems.push(`${where}: metadata.name must be a DNS-1123 subdomain, got ${JSON.stringify(name)}`);
    return undefined;
  }
  const labels = meta.labels ?? {};
  const annotations = meta.annotations ?? {};
  if (!isStringMap(labels)) problems.push(`${where} (Pod "${name}"): metadata.labels must map strings to strings`);
  if (!isStringMap(annotations)) problems.push(`${where} (Pod "${name}"): metadata.annotations must map strings to strings`);
  if (!isStringMap(labels) || !isStringMap(annotations)) return undefined;
  const readyCondition = doc.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name,
    labels,
    ready: readyCondition ? readyCondition.status === 'True' : true,
    drainRequested: annotations[DRAIN_ANNOTATION] === 'true',
    deleting: false,
    incarnation: typeof meta.uid === 'string' ? meta.uid : '',
  };
}

/**
 * Reads a standalone fleet file: VoiceAgentPool documents exactly as one would
 * kubectl apply them, plus Pod documents (name, labels, optional drain
 * annotation and Ready condition). Every problem is reported at once, each
 * naming its document and field.
 */
export function parseFleetFile(text: string, file: string): StandaloneFleet {
  let docs: unknown[];
  try {
    docs = loadAllYaml(text);
  } catch (err) {
    throw new FleetFileError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const problems: string[] = [];
  const pools: Pool[] = [];
  const pods: PodFacts[] = [];
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return;
    const where = `document ${i + 1}`;
    const kind = (doc as { kind?: unknown }).kind;
    if (kind === 'VoiceAgentPool') {
      const name = (doc as { metadata?: { name?: unknown } }).metadata?.name;
      const result = validatePoolDocument(doc);
      if (result.ok) pools.push(result.pool);
      else for (const p of result.problems) problems.push(`${where} (VoiceAgentPool ${JSON.stringify(name ?? '?')}): ${p.field}: ${p.message}`);
    } else if (kind === 'Pod') {
      const pod = podFromDocument(doc as PodDocument, where, problems);
      if (pod) pods.push(pod);
    } else {
      problems.push(`${where}: kind must be VoiceAgentPool or Pod, got ${JSON.stringify(kind)}`);
    }
  });
  const seen = new Set<string>();
  for (const name of [...pools.map((p) => `VoiceAgentPool "${p.name}"`), ...pods.map((p) => `Pod "${p.name}"`)]) {
    if (seen.has(name)) problems.push(`${name} is defined twice`);
    seen.add(name);
  }
  if (problems.length) throw new FleetFileError(file, problems);
  return { pools, pods };
}
