/**
 * Scoped tokens: who may call which route.
 *
 * Responsible for: the tokens' schema (a name, the secret, a scope, and optionally the
 * queues, topics and channels it is limited to), the identities the gateway knows (the
 * admin `token` plus `tokens`), and the one rule every /v1, event-stream and dashboard route
 * is checked by. A route declares the scope it needs in its config (`scope`); a route that
 * declares none needs `admin`, so a forgotten declaration fails closed.
 *
 * - `admin` may call every route.
 * - `read` may call the routes that read (GET: queues, tasks, topics, metrics, the
 *   dashboard's pages and streams) and subscribe to live channels and topic groups.
 * - `enqueue` may enqueue tasks (and wait for the outcome of its own enqueue with ?wait)
 *   and publish to channels and topics.
 *
 * A token with lists of queues, topics or channels reaches only the resources it lists:
 * a route naming another one, or covering them all (listing every queue, metrics), is
 * refused. Tokens live in the gateway's memory only, never in Redis.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { z } from 'zod';
import { NAME_PATTERN } from '../config.js';
import { ForbiddenError, ValidationError } from '../errors.js';

export const SCOPES = ['admin', 'read', 'enqueue'] as const;
export type Scope = (typeof SCOPES)[number];

const nameList = (kind: string) =>
  z.array(z.string().regex(NAME_PATTERN, `a ${kind} name uses 1-128 characters from A-Z a-z 0-9 . _ -`)).min(1).max(10_000);

export const scopedTokenSchema = z
  .object({
    /** Shown in logs and messages instead of the token: 1-64 characters from A-Z a-z 0-9 . _ -. */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a token name uses 1-64 characters from A-Z a-z 0-9 . _ -'),
    /** The bearer token itself (at least 16 characters when the gateway listens beyond loopback). */
    token: z.string().min(1).max(4096),
    scope: z.enum(SCOPES),
    /** Limit the token to these queues. */
    queues: nameList('queue').optional(),
    /** Limit the token to these topics. */
    topics: nameList('topic').optional(),
    /** Limit the token to these live channels (exact names; raw names as Redis spells them). */
    channels: z.array(z.string().min(1).max(1024)).min(1).max(10_000).optional(),
  })
  .strict();

export type ScopedToken = z.input<typeof scopedTokenSchema>;

/** Who a request acts as: a token's name and scope, and what it is limited to. */
export interface Identity {
  readonly name: string;
  readonly scope: Scope;
  /** Undefined: not limited; else only these (an empty set: none of that kind). */
  readonly limits?: { readonly queues: ReadonlySet<string>; readonly topics: ReadonlySet<string>; readonly channels: ReadonlySet<string> };
}

/** A gateway without any token (loopback only): every request may do everything. */
export const OPEN_IDENTITY: Identity = Object.freeze({ name: 'open', scope: 'admin' });

/** The name of the `token` option's identity. */
export const ADMIN_TOKEN_NAME = 'admin';

export interface KnownToken {
  identity: Identity;
  token: string;
}

/** Every token the gateway accepts, with its identity; refuses two tokens with one name or one secret. */
export function knownTokens(token: string | undefined, tokens: readonly z.output<typeof scopedTokenSchema>[]): KnownToken[] {
  const known: KnownToken[] = [];
  if (token) known.push({ token, identity: { name: ADMIN_TOKEN_NAME, scope: 'admin' } });
  for (const entry of tokens) {
    const limited = entry.queues || entry.topics || entry.channels;
    known.push({
      token: entry.token,
      identity: {
        name: entry.name,
        scope: entry.scope,
        ...(limited
          ? { limits: { queues: new Set(entry.queues ?? []), topics: new Set(entry.topics ?? []), channels: new Set(entry.channels ?? []) } }
          : {}),
      },
    });
  }
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const { token: secret, identity } of known) {
    if (names.has(identity.name)) throw new ValidationError(`two tokens are named "${identity.name}": give each a name of its own`);
    if (secrets.has(secret)) throw new ValidationError(`the token named "${identity.name}" is the same secret as another: give each its own`);
    names.add(identity.name);
    secrets.add(secret);
  }
  return known;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs (default admin). 'any': any authenticated caller (logout, session info). */
    scope?: Scope | 'any';
    /**
     * How a limited token is checked: 'params' (default) by the queue, topic or channel in
     * the path, a route without one covering them all; 'none' when the route shows no
     * resource's data (the page shell); 'handler' when the handler checks the body's.
     */
    resource?: 'params' | 'none' | 'handler';
  }
  interface FastifyRequest {
    /** Who the request acts as (set by the auth hook; the open identity without tokens). */
    identity: Identity;
  }
}

const RESOURCE_PARAMS = ['queue', 'topic', 'channel'] as const;

function satisfies(have: Scope, need: Scope | 'any'): boolean {
  return need === 'any' || have === 'admin' || have === need;
}

/** A route as access sees it: the gateway's route table (docs/http-api.md § Security model is checked against it). */
export interface RouteAccess {
  method: string;
  url: string;
  /** Served without a token. */
  public: boolean;
  scope: Scope | 'any';
  resource: 'params' | 'none' | 'handler';
  /** A dashboard page: a browser without a session is sent to the login form. */
  page: boolean;
}

/** Records every route registered after this call (HEAD twins of GET routes excluded). */
export function collectAccess(app: FastifyInstance): RouteAccess[] {
  const routes: RouteAccess[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as { public?: boolean; scope?: Scope | 'any'; resource?: RouteAccess['resource']; session?: string };
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, public: config.public === true, scope: config.scope ?? 'admin', resource: config.resource ?? 'params', page: config.session === 'page' });
    }
  });
  return routes;
}

/** Refuses a limited identity a resource it does not list. */
export function assertResource(identity: Identity, kind: 'queue' | 'topic' | 'channel', name: string): void {
  const limits = identity.limits;
  if (!limits) return;
  const allowed = kind === 'queue' ? limits.queues : kind === 'topic' ? limits.topics : limits.channels;
  if (!allowed.has(name)) {
    throw new ForbiddenError(`the token "${identity.name}" is limited to other ${kind}s than ${JSON.stringify(name)}: use a token that lists it`);
  }
}

/** The refusal for a request its identity may not make, or undefined when it may. */
export function accessProblem(request: FastifyRequest): ForbiddenError | undefined {
  const { identity } = request;
  const config = request.routeOptions.config ?? {};
  const need = config.scope ?? 'admin';
  const route = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
  if (!satisfies(identity.scope, need)) {
    return new ForbiddenError(`the token "${identity.name}" has scope ${identity.scope}, and ${route} needs ${need}: use a token with that scope`);
  }
  if (!identity.limits || config.resource === 'none' || config.resource === 'handler' || need === 'any') return undefined;
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  let named = false;
  for (const param of RESOURCE_PARAMS) {
    const name = params[param];
    if (name === undefined) continue;
    named = true;
    try {
      assertResource(identity, param, name);
    } catch (error) {
      return error as ForbiddenError;
    }
  }
  if (!named) {
    return new ForbiddenError(
      `the token "${identity.name}" is limited to some queues, topics or channels, and ${route} covers them all: use a token without limits`,
    );
  }
  return undefined;
}
