/**
 * Bearer-token auth. With a token, every route needs `Authorization: Bearer <token>`
 * except those marked public (the health probes); the comparison takes the same time
 * whatever the guess. Without a token the gateway is open, which start-up allows only on
 * loopback addresses (see `assertSafeListen`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { UnauthorizedError, ValidationError } from '../errors.js';
import { errorBody } from './errors.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function installAuth(app: FastifyInstance, token: string | undefined): void {
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config?.public) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/i.exec(header);
    if (match && timingSafeEqual(digest(match[1]!.trim()), expected)) return;
    const error = new UnauthorizedError();
    return reply.status(error.httpStatus).header('www-authenticate', 'Bearer').send(errorBody(error));
  });
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''));
}

/** Refuses to serve an open gateway beyond this machine. */
export function assertSafeListen(host: string, token: string | undefined): void {
  if (!token && !isLoopback(host)) {
    throw new ValidationError(
      `refusing to listen on ${host} without a token: anyone who can reach it could enqueue and cancel tasks. ` +
        'Set ERRAND_TOKEN (clients then send "Authorization: Bearer <token>"), or listen on 127.0.0.1',
    );
  }
}
