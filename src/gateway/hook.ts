/**
 * Every request passes the gateway's guards (browser-guard.ts, redis-guard.ts, auth.ts), so
 * their hooks cost nothing they need not: `requestCheck` makes a check that usually decides
 * at once into a callback hook (no promise per request, none per hook), and still lets it
 * wait when it must (a check of Redis in flight, a token's failure count). A check refuses
 * by throwing (answered as that error) or by sending the reply itself.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';

export type RequestCheck = (request: FastifyRequest, reply: FastifyReply) => Promise<void> | void;

export function requestCheck(check: RequestCheck): onRequestHookHandler {
  return (request, reply, done) => {
    let pending: Promise<void> | void;
    try {
      pending = check(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    // A rejection without an error must still refuse (as Fastify does for async hooks).
    if (pending) pending.then(() => done(), (error: unknown) => done(error instanceof Error ? error : new Error(`request check failed: ${String(error)}`)));
    else done();
  };
}
