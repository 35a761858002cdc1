import { resolve } from 'node:path';
import { ForeignInstallationError, KEY_PREFIX_PATTERN, operatorInstallation, standaloneInstallation } from '../../../core/installation.js';

describe('installation identity', () => {
  test('an operator installation defaults to a prefix of its own namespace, named by namespace and Lease', () => {
    expect(operatorInstallation({}, 'voice', 'smart-router-leader')).toEqual({ keyPrefix: 'smart-router:voice', id: 'operator:voice/smart-router-leader' });
    expect(operatorInstallation({}, 'other', 'smart-router-leader').keyPrefix).not.toBe(operatorInstallation({}, 'voice', 'smart-router-leader').keyPrefix);
  });

  test('explicit settings win', () => {
    expect(operatorInstallation({ keyPrefix: 'legacy', installationId: 'voice/router' }, 'voice', 'l')).toEqual({ keyPrefix: 'legacy', id: 'voice/router' });
    expect(standaloneInstallation({ keyPrefix: 'dev', installationId: 'laptop' }, 'pools.yaml')).toEqual({ keyPrefix: 'dev', id: 'laptop' });
  });

  test('a standalone installation is its pools file', () => {
    expect(standaloneInstallation({}, 'examples/pools.yaml')).toEqual({ keyPrefix: 'smart-router:standalone', id: `standalone:${resolve('examples/pools.yaml')}` });
  });

  test('the longest namespace still makes a valid prefix', () => {
    expect(KEY_PREFIX_PATTERN.test(operatorInstallation({}, 'n'.repeat(63), 'l').keyPrefix)).toBe(true);
  });

  test('the refusal names the owner, this installation and what to change', () => {
    const err = new ForeignInstallationError({ keyPrefix: 'smart-router:voice', id: 'operator:voice/b' }, 'operator:voice/a', '{smart-router:voice}:owner');
    expect(err.message).toContain('"smart-router:voice" belongs to installation "operator:voice/a"');
    expect(err.message).toContain('this is installation "operator:voice/b"');
    expect(err.message).toContain('KEY_PREFIX');
    expect(err.message).toContain('{smart-router:voice}:owner');
  });
});
