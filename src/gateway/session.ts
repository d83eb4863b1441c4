/**
 * Dashboard sessions and CSRF tokens (the gateway authenticates them with the bearer tokens, auth.ts).
 *
 * Responsible for: issuing the session cookie after a login with one of the gateway's
 * tokens (`<expiresAt>.<token name>.<generation>.<nonce>.<mac>`, an HMAC keyed by a key
 * derived from that token: changing the token ends its sessions), verifying it, and
 * deriving each session's CSRF token (an HMAC of its nonce). The cookie says which token
 * logged in, so the session has that token's scope. The generation is checked against the
 * one in Redis on every request (auth.ts): logging out moves it on, which ends every
 * session of that token on every gateway. Without a token there is no session; the CSRF
 * token is then keyed by a random key of this process (a restarted gateway hands out a new
 * one, and the client fetches it again).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity, KnownToken } from './scopes.js';

export const SESSION_COOKIE = 'errand_session';
/** How long a login lasts. */
export const SESSION_MAX_AGE_S = 12 * 3600;

function mac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The value of one cookie in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A verified session cookie: who logged in, and in which generation. */
export interface Session {
  nonce: string;
  identity: Identity;
  generation: number;
}

interface SessionKey {
  identity: Identity;
  sessionKey: Buffer;
  csrfKey: Buffer;
}

export class SessionKeys {
  /** Whether the gateway has a token: sessions exist only then. */
  readonly enabled: boolean;
  private readonly keys = new Map<string, SessionKey>();
  private readonly openCsrfKey = randomBytes(32);

  constructor(tokens: readonly KnownToken[], private readonly now: () => number = Date.now) {
    this.enabled = tokens.length > 0;
    for (const { token, identity } of tokens) {
      const derive = (purpose: string) => createHmac('sha256', token).update(purpose).digest();
      this.keys.set(identity.name, { identity, sessionKey: derive('errand dashboard session v2'), csrfKey: derive('errand dashboard csrf v1') });
    }
  }

  /** A new session's cookie value, for a login with `identity`'s token in `generation`. */
  issue(identity: Identity, generation: number): string {
    const key = this.keys.get(identity.name)!;
    const body = `${this.now() + SESSION_MAX_AGE_S * 1000}.${identity.name}.${generation}.${randomBytes(18).toString('base64url')}`;
    return `${body}.${mac(key.sessionKey, body)}`;
  }

  /** The session when the Cookie header holds a valid, unexpired one (its generation not yet checked); else null. */
  verify(cookieHeader: string | undefined): Session | null {
    if (!this.enabled) return null;
    const value = readCookie(cookieHeader, SESSION_COOKIE);
    const match = value ? /^(\d{1,15})\.([A-Za-z0-9._-]{1,64})\.(\d{1,15})\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
    if (!match) return null;
    const [, expires, name, generation, nonce, signature] = match as unknown as [string, string, string, string, string, string];
    const key = this.keys.get(name);
    if (!key || !sameText(signature, mac(key.sessionKey, `${expires}.${name}.${generation}.${nonce}`))) return null;
    return Number(expires) > this.now() ? { nonce, identity: key.identity, generation: Number(generation) } : null;
  }

  /** The CSRF token of a session (null: an open gateway, which has none). */
  csrfToken(session: Session | null): string {
    const key = session ? this.keys.get(session.identity.name)?.csrfKey : undefined;
    return mac(key ?? this.openCsrfKey, `csrf:${session?.nonce ?? ''}`);
  }

  checkCsrf(session: Session | null, header: unknown): boolean {
    return typeof header === 'string' && sameText(header, this.csrfToken(session));
  }
}

/** The Set-Cookie header for a session; Secure when the request came over https. */
export function sessionCookieHeader(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${SESSION_MAX_AGE_S}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookieHeader(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
