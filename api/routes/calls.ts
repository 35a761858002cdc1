import type { RequestHandler } from 'express';
import type { CallRouter } from '../call-router.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import { validateBody } from '../validation.js';

interface AllocateBody {
  call_sid: string;
  merchant_id?: string;
  reseller_id?: string;
  tier?: string;
}

/** merchant_id, or reseller_id (the same field under the reference system's newer name). */
export function merchantOf(body: { merchant_id?: string; reseller_id?: string }): string | undefined {
  if (body.merchant_id !== undefined && body.reseller_id !== undefined && body.merchant_id !== body.reseller_id) {
    throw badRequest('merchant_id and reseller_id name the same field and must not differ');
  }
  return body.merchant_id ?? body.reseller_id;
}

/** The client closed its connection (or its side of it): it no longer waits for this answer. */
export const clientGone = (req: { socket: { destroyed: boolean; readableEnded: boolean; writable: boolean } }): boolean =>
  req.socket.destroyed || req.socket.readableEnded || !req.socket.writable;

export const poolRef = (pool: string) => `pool:${pool}`;

/** The two routes a telephony service calls for every call, by path under /api/v1. */
export interface CallHandlers {
  '/allocate': RequestHandler;
  '/release': RequestHandler;
}

export function callHandlers(router: CallRouter): CallHandlers {
  return {
    '/allocate': async (req, res) => {
      const body = validateBody<AllocateBody>('AllocateRequest', req.body);
      const allocation = await router.allocate({ callSid: body.call_sid, merchantId: merchantOf(body), tier: body.tier, arrivedAt: res.locals.arrivedAt as number | undefined, clientGone: () => clientGone(req), afterStall: res.locals.afterStall === true });
      if (!allocation) throw new HttpError(503, { success: false, error: 'no pods available' });
      // Field order as the reference system writes it.
      res.json({
        pod_name: allocation.pod,
        source_pool: poolRef(allocation.pool),
        success: true,
        was_existing: allocation.wasExisting,
        ws_url: allocation.wsUrl,
      });
    },
    '/release': async (req, res) => {
      const body = validateBody<{ call_sid: string }>('ReleaseRequest', req.body);
      const released = await router.release(body.call_sid);
      if (!released) throw notFound('call not found');
      res.json({
        success: true,
        pod_name: released.pod,
        released_to_pool: poolRef(released.pool),
        was_draining: released.wasDraining,
      });
    },
  };
}
