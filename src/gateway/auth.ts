/**
 * Bearer-token auth. With a token, every route needs `Authorization: Bearer <token>`
 * except those marked public (the health probes); the comparison takes the same time
 * whatever the guess. Dashboard routes (marked `session`) also accept the dashboard's
 * session cookie, and an unauthenticated browser asking for a dashboard page is sent to
 * the login form; the API under /v1 never accepts the cookie, so it needs no CSRF defence.
 * Without a token the gateway is open, which start-up allows only on loopback addresses
 * (see `assertSafeListen`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { UnauthorizedError, ValidationError } from '../errors.js';
import type { SessionKeys } from '../dashboard/session.js';
import { LOGIN_PATH } from '../dashboard/shared.js';
import { errorBody } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A dashboard route: the session cookie is accepted; 'page' routes redirect to the login. */
    session?: 'page' | 'api';
  }
  interface FastifyRequest {
    /** The nonce of the dashboard session that authenticated this request, else null. */
    dashboardSession: string | null;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** A login URL that brings the browser back to `url` (a path of this gateway) afterwards. */
export function loginUrl(url: string): string {
  return url === '/' ? LOGIN_PATH : `${LOGIN_PATH}?next=${encodeURIComponent(url)}`;
}

export function installAuth(app: FastifyInstance, token: string | undefined, sessions: SessionKeys): void {
  app.decorateRequest('dashboardSession', null);
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config?.public) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/i.exec(header);
    if (match && timingSafeEqual(digest(match[1]!.trim()), expected)) return;
    if (config?.session) {
      const nonce = sessions.verify(request.headers.cookie);
      if (nonce !== null) {
        request.dashboardSession = nonce;
        return;
      }
      if (config.session === 'page' && request.method === 'GET') return reply.redirect(loginUrl(request.url));
    }
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
