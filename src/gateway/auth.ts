/**
 * Authentication and access, checked before any route runs. With tokens (the admin
 * `token` and the scoped `tokens`, scopes.ts), every route except those marked public (the
 * health probes, the login form, the dashboard's static files) needs
 * `Authorization: Bearer <token>`; each token is compared in the same time whatever the
 * guess. Dashboard routes (marked `session`) also accept the dashboard's session cookie,
 * as long as its generation is the current one in Redis (logout moves it on), and an
 * unauthenticated browser asking for a dashboard page is sent to the login form; the API
 * under /v1 never accepts the cookie, so it needs no CSRF defence. Then the request's
 * identity must have the scope (and list the resource) its route needs: 403 otherwise.
 *
 * Failed authentications are counted per client address (auth-limit.ts): past the limit,
 * every request from it gets 429 before its token is even looked at.
 *
 * Without a token the gateway is open, which start-up allows only on loopback addresses
 * (see `assertSafeListen`); browser-guard.ts then keeps other sites and rebound DNS names out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrandError, UnauthorizedError, ValidationError } from '../errors.js';
import type { Session, SessionKeys } from './session.js';
import { LOGIN_PATH } from '../dashboard/shared.js';
import type { AuthLimiter } from './auth-limit.js';
import type { GatewayContext } from './context.js';
import { errorBody } from './errors.js';
import { requestCheck } from './hook.js';
import { accessProblem, OPEN_IDENTITY, type Identity, type KnownToken } from './scopes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A dashboard route: the session cookie is accepted; 'page' routes redirect to the login. */
    session?: 'page' | 'api';
  }
  interface FastifyRequest {
    /** The dashboard session that authenticated this request, else null. */
    dashboardSession: Session | null;
  }
}

/** Shortest token accepted when the gateway listens beyond loopback. */
export const MIN_TOKEN_CHARS = 16;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Matches a candidate against every token, in the same time whichever (if any) it is. */
export class TokenTable {
  private readonly digests: { digest: Buffer; identity: Identity }[];

  constructor(tokens: readonly KnownToken[]) {
    this.digests = tokens.map(({ token, identity }) => ({ digest: digest(token), identity }));
  }

  get empty(): boolean {
    return this.digests.length === 0;
  }

  match(candidate: unknown): Identity | undefined {
    if (typeof candidate !== 'string') return undefined;
    const given = digest(candidate);
    let found: Identity | undefined;
    for (const entry of this.digests) if (timingSafeEqual(given, entry.digest)) found ??= entry.identity;
    return found;
  }
}

/** A login URL that brings the browser back to `url` (a path of this gateway) afterwards. */
export function loginUrl(url: string): string {
  return url === '/' ? LOGIN_PATH : `${LOGIN_PATH}?next=${encodeURIComponent(url)}`;
}

/** Answers with an error and its headers (401 asks for the bearer token, 429 says when to come back). */
export function refuse(reply: FastifyReply, error: ErrandError): FastifyReply {
  if (error instanceof UnauthorizedError) void reply.header('www-authenticate', 'Bearer');
  const retryAfter = (error as { retryAfterS?: number }).retryAfterS;
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
  return reply.status(error.httpStatus).send(errorBody(error));
}

export interface AuthParts {
  tokens: TokenTable;
  sessions: SessionKeys;
  limiter: AuthLimiter;
}

/** A session cookie whose token and generation are current, else null. */
export async function currentSession(ctx: GatewayContext, sessions: SessionKeys, request: FastifyRequest): Promise<Session | null> {
  const session = sessions.verify(request.headers.cookie);
  if (!session) return null;
  const generation = await ctx.admin.auth.sessionGeneration(session.identity.name);
  return generation === session.generation ? session : null;
}

export function installAuth(app: FastifyInstance, ctx: GatewayContext, { tokens, sessions, limiter }: AuthParts): void {
  app.decorateRequest('dashboardSession', null);
  app.decorateRequest('identity', null as unknown as Identity); // set by the hook below, before any route
  app.addHook(
    'onRequest',
    requestCheck((request, reply) => {
      const config = request.routeOptions.config;
      request.identity = OPEN_IDENTITY;
      if (config?.public) return;
      if (!tokens.empty) return authenticated(request, reply, config);
      authorize(request, reply);
    }),
  );

  /** Authenticates the request's token or session, then authorizes it (or answers the refusal). */
  async function authenticated(request: FastifyRequest, reply: FastifyReply, config: FastifyRequest['routeOptions']['config']): Promise<void> {
    try {
      await limiter.assertNotBlocked(request);
      const identity = await authenticate(request);
      if (!identity) {
        // A browser without a session goes to the login form; a wrong token is a guess, wherever it is sent.
        const offered = request.headers.authorization !== undefined;
        if (!offered && config?.session === 'page' && request.method === 'GET') {
          void reply.redirect(loginUrl(request.url));
          return;
        }
        await limiter.countFailure(request);
        refuse(reply, new UnauthorizedError());
        return;
      }
      request.identity = identity;
    } catch (error) {
      if (error instanceof ErrandError && error.code === 'RATE_LIMITED') {
        refuse(reply, error);
        return;
      }
      throw error;
    }
    authorize(request, reply);
  }

  function authorize(request: FastifyRequest, reply: FastifyReply): void {
    const problem = accessProblem(request);
    if (problem) refuse(reply, problem);
  }

  async function authenticate(request: FastifyRequest): Promise<Identity | undefined> {
    const match = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '');
    if (match) return tokens.match(match[1]!.trim());
    if (!request.routeOptions.config?.session) return undefined;
    const session = await currentSession(ctx, sessions, request);
    if (!session) return undefined;
    request.dashboardSession = session;
    return session.identity;
  }
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''));
}

/**
 * Refuses to serve an open gateway beyond this machine, and a short token there: a token
 * of fewer than 16 characters can be guessed.
 */
export function assertSafeListen(host: string, tokens: readonly { token: string; name: string }[]): void {
  if (isLoopback(host)) return;
  if (tokens.length === 0) {
    throw new ValidationError(
      `refusing to listen on ${host} without a token: anyone who can reach it could enqueue and cancel tasks. ` +
        'Set ERRAND_TOKEN (clients then send "Authorization: Bearer <token>"), or listen on 127.0.0.1',
    );
  }
  const short = tokens.find(({ token }) => token.length < MIN_TOKEN_CHARS);
  if (short) {
    throw new ValidationError(
      `refusing to listen on ${host} with the ${short.name} token of ${short.token.length} characters: beyond loopback a token needs at least ${MIN_TOKEN_CHARS}, ` +
        'random ones (e.g. openssl rand -base64 24)',
    );
  }
}
