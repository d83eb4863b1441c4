/**
 * Dashboard sessions and CSRF tokens, stateless so that any number of gateways sharing a
 * token agree without shared storage.
 *
 * Responsible for: issuing the session cookie after a login with the gateway's token
 * (`<expiresAt>.<nonce>.<mac>`, an HMAC keyed by a key derived from the token: changing the
 * token ends every session), verifying it, and deriving each session's CSRF token
 * (an HMAC of its nonce). Without a token there is no session; the CSRF token is then keyed
 * by a random key of this process (a restarted gateway hands out a new one, and the client
 * fetches it again).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

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

export class SessionKeys {
  /** Whether the gateway has a token: sessions exist only then. */
  readonly enabled: boolean;
  private readonly sessionKey: Buffer;
  private readonly csrfKey: Buffer;
  private readonly tokenDigest: Buffer | undefined;

  constructor(token: string | undefined, private readonly now: () => number = Date.now) {
    this.enabled = Boolean(token);
    const derive = (purpose: string) => (token ? createHmac('sha256', token).update(purpose).digest() : randomBytes(32));
    this.sessionKey = derive('errand dashboard session v1');
    this.csrfKey = derive('errand dashboard csrf v1');
    this.tokenDigest = token ? createHash('sha256').update(token).digest() : undefined;
  }

  /** Whether a login's token is the gateway's (in the same time whatever the guess). */
  matchesToken(candidate: unknown): boolean {
    if (!this.tokenDigest || typeof candidate !== 'string') return false;
    return timingSafeEqual(createHash('sha256').update(candidate).digest(), this.tokenDigest);
  }

  /** A new session's cookie value. */
  issue(): string {
    const body = `${this.now() + SESSION_MAX_AGE_S * 1000}.${randomBytes(18).toString('base64url')}`;
    return `${body}.${mac(this.sessionKey, body)}`;
  }

  /** The session's nonce when the Cookie header holds a valid, unexpired session; else null. */
  verify(cookieHeader: string | undefined): string | null {
    if (!this.enabled) return null;
    const value = readCookie(cookieHeader, SESSION_COOKIE);
    const match = value ? /^(\d{1,15})\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
    if (!match) return null;
    const [, expires, nonce, signature] = match as unknown as [string, string, string, string];
    if (!sameText(signature, mac(this.sessionKey, `${expires}.${nonce}`))) return null;
    return Number(expires) > this.now() ? nonce : null;
  }

  /** The CSRF token of a session (nonce '' when there is no session: an open gateway). */
  csrfToken(nonce: string): string {
    return mac(this.csrfKey, `csrf:${nonce}`);
  }

  checkCsrf(nonce: string, header: unknown): boolean {
    return typeof header === 'string' && sameText(header, this.csrfToken(nonce));
  }
}

/** The Set-Cookie header for a session; Secure when the request came over https. */
export function sessionCookieHeader(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${SESSION_MAX_AGE_S}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookieHeader(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
