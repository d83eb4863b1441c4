/**
 * Keeps browsers out of a gateway that has no token. Such a gateway listens on loopback
 * only, but any web page the user opens can still send requests there: through a DNS name
 * an attacker rebinds to 127.0.0.1 (its Host is then the attacker's name), or straight to
 * 127.0.0.1 from another site (a "simple" cross-site request needs no CORS preflight: a
 * form post, or fetch with mode no-cors, bodies and body-less POSTs alike).
 *
 * So without a token, every route but the health probes answers only requests addressed
 * to a loopback name, and every state-changing request (any method but GET, HEAD and
 * OPTIONS) is refused when the browser says it comes from another site (Sec-Fetch-Site) or
 * from another origin (Origin). curl and other programs send neither header and are
 * unaffected. Refusals are 403 FORBIDDEN and happen before the body is read, so they write
 * nothing. With a token, browsers never send the bearer header on their own, and the
 * dashboard's cookie has its CSRF checks (dashboard/plugin.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError } from '../errors.js';
import { isLoopback } from './auth.js';
import { requestCheck } from './hook.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host name of a Host header (port dropped; an IPv6 address keeps its brackets). */
export function hostname(host: string | undefined): string {
  if (!host) return '';
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}

/** The browser says the request comes from another site, or another port of this host. */
export function isCrossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

/** The request carries an Origin that is not this gateway's own (as addressed by its Host). */
export function isForeignOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host.toLowerCase() !== (request.headers.host ?? '').toLowerCase();
  } catch {
    return true; // "null" (sandboxed frames, file: pages) or garbage
  }
}

/** Refuses a request to an open gateway addressed to a name that is not loopback (DNS rebinding). */
export function assertLoopbackHost(request: FastifyRequest): void {
  const name = hostname(request.headers.host);
  if (!isLoopback(name)) {
    throw new ForbiddenError(
      `a gateway without a token answers only requests to loopback names, not "${name}": ` +
        'use http://127.0.0.1:<port>/ (or localhost), or set ERRAND_TOKEN',
    );
  }
}

export function installBrowserGuard(app: FastifyInstance, { open }: { open: boolean }): void {
  if (!open) return;
  app.addHook(
    'onRequest',
    requestCheck((request) => {
      const config = request.routeOptions.config;
      if (config?.probe) return; // load balancers and orchestrators may address the probes by any name
      assertLoopbackHost(request);
      if (SAFE_METHODS.has(request.method)) return;
      if (isCrossSite(request) || isForeignOrigin(request)) {
        throw new ForbiddenError(
          `cross-site ${request.method} refused: a gateway without a token takes state-changing requests only from programs and its own pages; ` +
            'call it from your server or curl, or set ERRAND_TOKEN and send it as a bearer token',
        );
      }
    }),
  );
}
