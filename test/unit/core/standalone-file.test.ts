import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../core/paths.js';
import { FleetFileError, parseFleetFile } from '../../../core/standalone-file.js';

const parse = (text: string) => parseFleetFile(text, 'fleet.yaml');
const errorsOf = (text: string): string[] => {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof FleetFileError) return err.problems;
    throw err;
  }
  throw new Error('expected the file to be refused');
};

describe('parseFleetFile', () => {
  test('reads the example fleet: three pools and five pods', () => {
    const fleet = parseFleetFile(readFileSync(join(packageRoot, 'examples/pools.yaml'), 'utf8'), 'examples/pools.yaml');
    expect(fleet.pools.map((p) => p.name)).toEqual(['gold', 'standard', 'basic']);
    expect(fleet.pools.find((p) => p.name === 'basic')?.spec).toMatchObject({ exclusive: false, capacity: 3, replicas: 1 });
    expect(fleet.pods.map((p) => p.name)).toEqual(['voice-agent-0', 'voice-agent-1', 'voice-agent-2', 'voice-agent-3', 'voice-agent-4']);
    expect(fleet.pods.every((p) => p.ready && !p.drainRequested)).toBe(true);
  });

  test('pods carry the drain annotation and the Ready condition', () => {
    const fleet = parse(`
kind: Pod
metadata: { name: a, annotations: { smartrouter.io/drain: "true" } }
status: { conditions: [{ type: Ready, status: "False" }] }
`);
    expect(fleet.pods[0]).toMatchObject({ name: 'a', drainRequested: true, ready: false });
  });

  test('every problem is reported at once, naming the document and field', () => {
    const problems = errorsOf(`
apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: gold }
spec: { tier: gold, replicas: 1, exclusive: true, capacity: 2 }
---
kind: Pod
metadata: { name: Bad_Name }
---
kind: Deployment
metadata: { name: x }
`);
    expect(problems).toEqual([
      'document 1 (VoiceAgentPool "gold"): spec.capacity: spec.capacity must be 1 when spec.exclusive is true',
      'document 2: metadata.name must be a DNS-1123 subdomain, got "Bad_Name"',
      'document 3: kind must be VoiceAgentPool or Pod, got "Deployment"',
    ]);
  });

  test('a name defined twice is refused', () => {
    expect(errorsOf('kind: Pod\nmetadata: { name: a }\n---\nkind: Pod\nmetadata: { name: a }\n')).toEqual(['Pod "a" is defined twice']);
  });

  test('text that is not YAML is refused with the parser\'s reason', () => {
    expect(errorsOf('kind: [unclosed')[0]).toMatch(/^not valid YAML: /);
  });
});
