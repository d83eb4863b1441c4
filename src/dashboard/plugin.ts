/**
 * The dashboard as a gateway route plugin: the page shell at every view's path, the client
 * bundle under /ui/assets, the login form and logout, and the UI's JSON API and event
 * streams under /ui/api (api.ts, flow.ts, schedule-actions.ts, publish.ts, streams.ts).
 *
 * Responsible for the browser-facing defences that hold for every dashboard route:
 * security headers (strict CSP, nosniff, no framing) on every answer; without a token,
 * answering only requests addressed to a loopback name (an attacker's DNS name rebound to
 * 127.0.0.1 gets 403; the same check as /v1's, browser-guard.ts); and on every
 * state-changing call, the session's CSRF token in the X-Errand-CSRF header and no
 * cross-site Sec-Fetch-Site, checked before the body is read. The login counts wrong
 * tokens with the gateway's limit on guessing; logout ends the session's generation.
 * Authentication itself (bearer or session cookie) and scopes are the gateway's auth hook
 * (auth.ts).
 */
import { z } from 'zod';
import { ErrandError, ForbiddenError } from '../errors.js';
import type { AuthLimiter } from '../gateway/auth-limit.js';
import { loginUrl } from '../gateway/auth.js';
import { assertLoopbackHost, isCrossSite } from '../gateway/browser-guard.js';
import type { RoutePlugin } from '../gateway/context.js';
import type { ZodTypeProvider } from '../gateway/schema.js';
import { apiRoutes } from './api.js';
import { Assets } from './assets.js';
import { FeedHub } from './feeds.js';
import { flowRoutes } from './flow.js';
import { scheduleActionRoutes } from './schedule-actions.js';
import { loginPage, NOT_BUILT_PAGE, PAGE_PATHS, securityHeaders, SHELL } from './pages.js';
import { publishRoute } from './publish.js';
import { clearedSessionCookieHeader, sessionCookieHeader, type SessionKeys } from '../gateway/session.js';
import { currentSession, type TokenTable } from '../gateway/auth.js';
import { API_BASE, CSRF_HEADER, LOGIN_PATH } from './shared.js';
import { streamRoutes } from './streams.js';

/** How often live views are refreshed from Redis. */
export const FEED_INTERVAL_MS = 1_000;

/** A path of this gateway to return to after the login; anything else (other hosts, `//x`, `\`) becomes '/'. */
export function safeNext(next: string | undefined): string {
  return next && next.length <= 2000 && /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(next) ? next : '/';
}

export const dashboardRoutes =
  (sessions: SessionKeys, tokens: TokenTable, limiter: AuthLimiter): RoutePlugin =>
  (ctx) =>
  async (instance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();
    const assets = new Assets();
    const feeds = new FeedHub(FEED_INTERVAL_MS);
    ctx.closing.addEventListener('abort', () => feeds.close());

    app.addHook('onRequest', async (request) => {
      if (!sessions.enabled) assertLoopbackHost(request);
      if (request.method !== 'POST' || request.url.split('?')[0] === LOGIN_PATH) return;
      if (isCrossSite(request)) throw new ForbiddenError('cross-site request refused: use the dashboard itself');
      // A bearer token is not sent by browsers on their own, so a bearer call cannot be forged.
      if (sessions.enabled && request.dashboardSession === null) return;
      if (!sessions.checkCsrf(request.dashboardSession, request.headers[CSRF_HEADER])) {
        throw new ForbiddenError(`this action needs the dashboard's ${CSRF_HEADER} header (from GET ${API_BASE}/session): reload the dashboard`);
      }
    });
    app.addHook('onSend', async (request, reply, payload) => {
      securityHeaders(reply, { cache: request.url.startsWith('/ui/assets/') });
      return payload;
    });

    const hide = { hide: true };
    for (const path of PAGE_PATHS) {
      // The shell holds no data (the client reads it through the API, checked there).
      app.get(path, { config: { session: 'page', scope: 'read', resource: 'none' } }, async (_request, reply) => {
        if (!assets.built) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
        return reply.type('text/html; charset=utf-8').send(SHELL);
      });
    }

    app.get(
      '/ui/assets/:name',
      { config: { public: true }, schema: { ...hide, params: z.object({ name: z.string().max(64) }) } },
      async (request, reply) => {
        const asset = assets.get(request.params.name);
        if (!asset) return reply.status(404).type('text/plain; charset=utf-8').send('no such asset: run npm run build');
        void reply.header('etag', asset.etag).type(asset.type);
        if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
        return reply.send(asset.body);
      },
    );

    const nextQuery = z.object({ next: z.string().optional() });
    app.get(LOGIN_PATH, { config: { public: true }, schema: { ...hide, querystring: nextQuery } }, async (request, reply) => {
      if (!sessions.enabled || (await currentSession(ctx, sessions, request)) !== null) return reply.redirect(safeNext(request.query.next));
      return reply.type('text/html; charset=utf-8').send(loginPage(false));
    });

    await app.register(async (scope) => {
      // The login form posts as a plain HTML form; only its route parses that format.
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) =>
        done(null, Object.fromEntries(new URLSearchParams(body as string))),
      );
      scope.withTypeProvider<ZodTypeProvider>().post(
        LOGIN_PATH,
        { config: { public: true }, schema: { ...hide, querystring: nextQuery, body: z.object({ token: z.string().max(4096) }) } },
        async (request, reply) => {
          // Login CSRF: a form on another site must not log this browser in.
          if (isCrossSite(request)) throw new ForbiddenError('cross-site login refused: log in from the dashboard itself');
          if (!sessions.enabled) return reply.redirect(safeNext(request.query.next), 303);
          try {
            await limiter.assertNotBlocked(request);
            const identity = tokens.match(request.body.token);
            if (!identity) {
              await limiter.countFailure(request);
              return reply.status(401).type('text/html; charset=utf-8').send(loginPage('wrong'));
            }
            const generation = await ctx.admin.auth.sessionGeneration(identity.name);
            void reply.header('set-cookie', sessionCookieHeader(sessions.issue(identity, generation), request.protocol === 'https'));
            return reply.redirect(safeNext(request.query.next), 303);
          } catch (error) {
            if (!(error instanceof ErrandError) || error.code !== 'RATE_LIMITED') throw error;
            void reply.header('retry-after', String((error as { retryAfterS?: number }).retryAfterS ?? 60));
            return reply.status(429).type('text/html; charset=utf-8').send(loginPage('blocked'));
          }
        },
      );
    });

    app.post('/ui/logout', { config: { session: 'api', scope: 'any' } }, async (request, reply) => {
      // Ends this session and every other of its token, on every gateway (a stolen copy of the cookie too).
      const session = request.dashboardSession;
      if (session) await ctx.admin.auth.revokeSessions(session.identity.name);
      void reply.header('set-cookie', clearedSessionCookieHeader(request.protocol === 'https'));
      return { login: sessions.enabled ? loginUrl('/') : null };
    });

    await app.register(apiRoutes(ctx, sessions));
    await app.register(flowRoutes(ctx));
    await app.register(scheduleActionRoutes(ctx));
    await app.register(publishRoute(ctx));
    await app.register(streamRoutes(ctx, feeds));
  };
