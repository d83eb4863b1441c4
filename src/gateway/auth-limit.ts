/**
 * The limit on guessing: failed authentications (401s and failed dashboard logins) are
 * counted per client address by @fastify/rate-limit with its Redis store, so the count
 * holds across every gateway on the same Redis. Past `maxAuthFailures` in
 * `authFailureWindowMs`, every request from that address is refused with 429 until the
 * window passes, a right token included (else the limit would still confirm a guess).
 *
 * Behind a proxy, the address is the client's only with `trustProxy` (options.ts).
 * With Redis away the limiter cannot count, and requests needing a token get 503: failing
 * closed, since a limit that lapses with Redis would let guessing run free.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthRateLimitedError } from '../errors.js';
import { orUnavailable } from '../redis/connection.js';
import type { GatewayContext } from './context.js';

export interface AuthLimiter {
  /** Throws AuthRateLimitedError while the request's address is over the limit. */
  assertNotBlocked(request: FastifyRequest): Promise<void>;
  /** Counts a failed authentication; throws AuthRateLimitedError once it is one too many. */
  countFailure(request: FastifyRequest): Promise<void>;
}

export async function installAuthLimiter(app: FastifyInstance, ctx: GatewayContext): Promise<AuthLimiter> {
  const { maxAuthFailures, authFailureWindowMs } = ctx.options;
  await app.register(rateLimit, {
    global: false, // no route is limited as such: only failures are counted, below
    max: maxAuthFailures,
    timeWindow: authFailureWindowMs,
    skipOnError: false,
    ...ctx.admin.auth.limiterStore(),
  });
  const limit = app.createRateLimit();
  const check = async (request: FastifyRequest, increment: boolean) => {
    const state = await orUnavailable(limit(request, { increment }));
    if (!state.isAllowed && state.isExceeded) throw new AuthRateLimitedError(Math.max(1, state.ttlInSeconds));
  };
  return {
    assertNotBlocked: (request) => check(request, false),
    async countFailure(request) {
      request.log.warn({ ip: request.ip, route: request.routeOptions.url }, 'failed authentication');
      await check(request, true);
    },
  };
}
