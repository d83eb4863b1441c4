/**
 * The gateway refuses to serve over a Redis that may evict queue keys (see
 * src/redis/eviction-policy.ts): at start, when Redis answers, it does not listen at all;
 * when a reconnect finds such a policy (a failover to a server configured differently),
 * every route but the liveness probe answers 503 UNSAFE_EVICTION_POLICY (and /readyz says
 * not ready) until a reconnect finds it safe again. `unsafeAllowEviction` turns both off.
 */
import type { FastifyInstance } from 'fastify';
import type { Admin } from '../admin/admin.js';
import { UnsafeEvictionPolicyError } from '../errors.js';
import { requestCheck } from './hook.js';

export function installRedisGuard(app: FastifyInstance, admin: Admin): void {
  app.addHook(
    'onRequest',
    requestCheck((request) => {
      if (request.routeOptions.config?.public) return; // /readyz checks it itself; /healthz is about the process
      return admin.checkRedisSafe();
    }),
  );
}

/** At start: refuses an unsafe Redis that answers now; one that does not is checked when it connects. */
export async function refuseUnsafeRedis(admin: Admin): Promise<void> {
  try {
    await admin.ping();
  } catch {
    return; // not answering yet: requests get 503 until it does, then its policy is checked
  }
  try {
    await admin.assertRedisSafe();
  } catch (error) {
    if (error instanceof UnsafeEvictionPolicyError) throw error;
  }
}
