import { resolve } from 'node:path';

/**
 * One installation of smart-router owns one Redis key prefix. Two
 * installations on one prefix would each treat the other's pools and pods as
 * gone and end each other's calls, so the prefix carries an owner record
 * (see lua/claim-owner-1.lua) and a process whose installation differs from
 * the owner refuses to start. Replicas of one installation share the prefix.
 */
export interface Installation {
  /** Redis key prefix, the hash tag of every key. */
  keyPrefix: string;
  /** Stable identity of the installation, the same on every replica and across restarts. */
  id: string;
}

export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/**
 * Operator mode: the namespace is the installation (the reconciler owns every
 * pool and pod in it), so the default prefix is `smart-router:<namespace>`,
 * and the default identity names the namespace and the Lease its replicas
 * elect a leader on.
 */
export function operatorInstallation(explicit: { keyPrefix?: string; installationId?: string }, namespace: string, leaseName: string): Installation {
  return {
    keyPrefix: explicit.keyPrefix ?? `smart-router:${namespace}`,
    id: explicit.installationId ?? `operator:${namespace}/${leaseName}`,
  };
}

/**
 * Standalone mode: the pools file is the installation. The default prefix is
 * `smart-router:standalone`, and the default identity is the file's absolute
 * path, so replicas started on the same file share the prefix and a router
 * started on another file is refused until it gets its own KEY_PREFIX (or an
 * INSTALLATION_ID, when replicas see the file under different paths).
 */
export function standaloneInstallation(explicit: { keyPrefix?: string; installationId?: string }, configFile: string): Installation {
  return {
    keyPrefix: explicit.keyPrefix ?? 'smart-router:standalone',
    id: explicit.installationId ?? `standalone:${resolve(configFile)}`,
  };
}

export class ForeignInstallationError extends Error {
  override name = 'ForeignInstallationError';

  constructor(
    readonly installation: Installation,
    readonly owner: string,
    ownerKey: string,
  ) {
    super(
      `Redis key prefix ${JSON.stringify(installation.keyPrefix)} belongs to installation ${JSON.stringify(owner)}, ` +
        `and this is installation ${JSON.stringify(installation.id)}: two installations on one prefix would end each other's calls. ` +
        `Give this installation its own prefix (KEY_PREFIX, or the chart value config.keyPrefix), ` +
        `or set INSTALLATION_ID=${JSON.stringify(owner)} if this is the same installation under another name, ` +
        `or, if that installation is gone for good, delete the Redis key ${ownerKey}.`,
    );
  }
}
