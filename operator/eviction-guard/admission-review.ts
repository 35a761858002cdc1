/**
 * The admission.k8s.io/v1 AdmissionReview as the API server sends it for a
 * pods/eviction CREATE, and the answer it expects. Only what the guard reads.
 */

export interface EvictionRequest {
  uid: string;
  pod: string;
  namespace: string;
  /** The request changes nothing (server-side dry run): the guard must not either. */
  dryRun: boolean;
}

export interface AdmissionAnswer {
  allowed: boolean;
  /** HTTP status of a denial: 429 tells kubectl drain and the autoscaler to retry later. */
  code?: number;
  message?: string;
  /** Shown by kubectl on an allowed request. */
  warnings?: string[];
}

export class AdmissionReviewError extends Error {
  override name = 'AdmissionReviewError';
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The eviction an AdmissionReview asks about, or null when it is not a
 * pods/eviction CREATE (the guard allows those untouched). Throws
 * AdmissionReviewError on a body that is not an AdmissionReview.
 */
export function parseEvictionReview(body: unknown): EvictionRequest | null {
  if (!isObject(body) || body.kind !== 'AdmissionReview' || body.apiVersion !== 'admission.k8s.io/v1') {
    throw new AdmissionReviewError('body must be an admission.k8s.io/v1 AdmissionReview');
  }
  const request = body.request;
  if (!isObject(request) || typeof request.uid !== 'string' || request.uid === '') {
    throw new AdmissionReviewError('request.uid is required');
  }
  const resource = isObject(request.resource) ? request.resource : {};
  if (resource.resource !== 'pods' || request.subResource !== 'eviction' || request.operation !== 'CREATE') return null;
  if (typeof request.name !== 'string' || request.name === '' || typeof request.namespace !== 'string') {
    throw new AdmissionReviewError('request.name and request.namespace are required for a pods/eviction review');
  }
  // kubectl drain --dry-run=server sets the Eviction's own deleteOptions; the API server sets request.dryRun.
  const object = isObject(request.object) ? request.object : {};
  const deleteOptions = isObject(object.deleteOptions) ? object.deleteOptions : {};
  const bodyDryRun = Array.isArray(deleteOptions.dryRun) && deleteOptions.dryRun.includes('All');
  return { uid: request.uid, pod: request.name, namespace: request.namespace, dryRun: request.dryRun === true || bodyDryRun };
}

/** The uid of a review, to answer even one the guard does not look at. */
export function reviewUid(body: unknown): string {
  return isObject(body) && isObject(body.request) && typeof body.request.uid === 'string' ? body.request.uid : '';
}

export function admissionResponse(uid: string, answer: AdmissionAnswer): Json {
  const response: Json = { uid, allowed: answer.allowed };
  if (!answer.allowed) {
    const code = answer.code ?? 403;
    response.status = { status: 'Failure', code, reason: code === 429 ? 'TooManyRequests' : 'Forbidden', message: answer.message ?? '' };
  }
  if (answer.warnings?.length) response.warnings = answer.warnings;
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
