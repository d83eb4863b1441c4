/**
 * The settings a started gateway (`npm start`, `errand serve`, `errand dev`) reads from the
 * environment, checked: the eviction override, the trusted proxy, the stream limit, and
 * the tokens. Tokens come from
 * ERRAND_TOKEN (scope admin), ERRAND_READ_TOKEN and ERRAND_ENQUEUE_TOKEN (scopes read and
 * enqueue, for every queue, topic and channel), and a JSON file of scoped tokens
 * (ERRAND_TOKENS_FILE or --tokens-file) for the full form: names, scopes, and the queues,
 * topics and channels each may reach. Never from a flag's value (`ps` would show it),
 * never from or into Redis. Read at start only: a token change needs a restart.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { formatIssues } from '../config.js';
import { ValidationError } from '../errors.js';
import { scopedTokenSchema, type ScopedToken } from './scopes.js';

const fileSchema = z.object({ tokens: z.array(scopedTokenSchema).max(1000) }).strict();

/** The tokens of a tokens file: `{ "tokens": [{ "name", "token", "scope", "queues"?, "topics"?, "channels"? }] }`. */
export function readTokensFile(path: string): ScopedToken[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ValidationError(`cannot read the tokens file ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`the tokens file ${JSON.stringify(path)} is not JSON (${(error as Error).message}): see docs/http-api.md § Security model`);
  }
  const parsed = fileSchema.safeParse(json);
  // The issues name paths and rules, never the values (a token is a value).
  if (!parsed.success) throw new ValidationError(`invalid tokens file ${JSON.stringify(path)}: ${formatIssues(parsed.error.issues)}`);
  return parsed.data.tokens;
}

export interface TokenSettings {
  token: string | undefined;
  tokens: ScopedToken[];
}

/** The admin token and the scoped ones, from the environment and an optional file. */
export function tokensFromEnvironment(env: NodeJS.ProcessEnv, file = env.ERRAND_TOKENS_FILE || undefined): TokenSettings {
  const tokens: ScopedToken[] = [];
  if (env.ERRAND_READ_TOKEN) tokens.push({ name: 'read', token: env.ERRAND_READ_TOKEN, scope: 'read' });
  if (env.ERRAND_ENQUEUE_TOKEN) tokens.push({ name: 'enqueue', token: env.ERRAND_ENQUEUE_TOKEN, scope: 'enqueue' });
  if (file) tokens.push(...readTokensFile(file));
  return { token: env.ERRAND_TOKEN || undefined, tokens };
}

/** ERRAND_UNSAFE_ALLOW_EVICTION: 1 or true accepts an evicting Redis; anything else set is a mistake. */
export function allowEvictionFromEnvironment(env: NodeJS.ProcessEnv): boolean {
  const value = env.ERRAND_UNSAFE_ALLOW_EVICTION;
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new ValidationError(`ERRAND_UNSAFE_ALLOW_EVICTION must be 1 (accept an evicting Redis) or 0, got ${JSON.stringify(value)}`);
}

/** ERRAND_TRUST_PROXY: 1/true (any sender), or the proxies' addresses (comma-separated, CIDR allowed). */
/** ERRAND_MAX_TOPIC_STREAMS: a whole number, or undefined when unset. */
export function maxTopicStreamsFromEnvironment(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,6}$/.test(value)) throw new ValidationError(`ERRAND_MAX_TOPIC_STREAMS must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function trustProxyFromEnvironment(value: string | undefined): boolean | string {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  return value;
}
