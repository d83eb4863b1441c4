/**
 * What the gateway says about its transport. Served over HTTPS (directly, or behind a TLS
 * proxy it trusts: `trustProxy`, which makes X-Forwarded-Proto the request's protocol), every
 * answer carries Strict-Transport-Security, so browsers never fall back to plain HTTP; the
 * dashboard's session cookie is then `Secure` (dashboard/plugin.ts reads the same protocol).
 */
import type { FastifyInstance } from 'fastify';

/** One year, the usual HSTS lifetime. */
export const HSTS = 'max-age=31536000';

export function installTransportSecurity(app: FastifyInstance): void {
  // A callback hook: on every answer, a promise would cost more than the check.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.protocol === 'https') void reply.header('strict-transport-security', HSTS);
    done(null, payload);
  });
}
