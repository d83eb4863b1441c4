/**
 * Option schemas of the broadcast side (live channels and durable topics), with their
 * defaults, and the name rules of channels. Same rules as config.ts: units in names,
 * unknown or mistyped options rejected by one ValidationError, resolved options frozen.
 */
import { z } from 'zod';
import { baseShape, parseOptions, validateName } from '../config.js';
import { ValidationError } from '../errors.js';

const MiB = 1024 * 1024;

/** Dead letters kept per topic (newest first); older ones are dropped. */
export const DEAD_LETTERS_KEPT = 10_000;

// ---- Live channels -----------------------------------------------------------------------

const broadcastOptionsSchema = z
  .object({
    ...baseShape,
    /**
     * Use channel names exactly as given and send messages as plain strings, so any Redis
     * client can publish to and subscribe with Errand. Default false: names get the
     * `<prefix>:ch:` prefix and messages are JSON.
     */
    raw: z.boolean().default(false),
    /** Largest accepted message, in bytes (JSON, or the string when raw). Default 1 MiB. */
    maxMessageBytes: z.number().int().min(1).max(512 * MiB).default(MiB),
  })
  .strict();

export type BroadcastOptions = z.input<typeof broadcastOptionsSchema>;
export type ResolvedBroadcastOptions = Readonly<z.output<typeof broadcastOptionsSchema>>;

export function resolveBroadcastOptions(input: BroadcastOptions | undefined): ResolvedBroadcastOptions {
  return Object.freeze(parseOptions('broadcast options', broadcastOptionsSchema, input));
}

const PATTERN_CHARS = /[*?[]/;
const NAME_PATTERN_WITH_GLOBS = /^[A-Za-z0-9._*?-]{1,128}$/;
const RAW_NAME_MAX_CHARS = 1024;

/** Whether a channel name is a pattern (holds `*`, `?` or `[`): subscribed with PSUBSCRIBE. */
export function isPattern(name: string): boolean {
  return PATTERN_CHARS.test(name);
}

/**
 * Checks a channel name or pattern. Errand names use the name rule, plus `*` and `?` in
 * patterns; raw names are anything Redis takes, except empty, over 1024 characters, or
 * holding control characters (which no one means and logs mangle).
 */
export function validateChannel(name: unknown, { raw, pattern }: { raw: boolean; pattern: boolean }): string {
  if (raw) {
    if (typeof name !== 'string' || name.length === 0 || name.length > RAW_NAME_MAX_CHARS || /[\u0000-\u001f\u007f]/.test(name)) {
      throw new ValidationError(
        `invalid raw channel name ${JSON.stringify(name)}: use 1-${RAW_NAME_MAX_CHARS} characters without control characters`,
      );
    }
    return name;
  }
  if (pattern && typeof name === 'string' && isPattern(name)) {
    if (!NAME_PATTERN_WITH_GLOBS.test(name)) {
      throw new ValidationError(
        `invalid channel pattern ${JSON.stringify(name)}: use 1-128 characters from A-Z a-z 0-9 . _ - and the wildcards * ?`,
      );
    }
    return name;
  }
  return validateName('channel', name);
}

/**
 * Whether a Redis glob pattern (PSUBSCRIBE's: `*`, `?`, `[...]` with `^` and ranges, `\`
 * escapes) can match some name that starts with `start`: it is run over `start` as a set of
 * positions in the pattern, and any position left alive can go on to match some suffix.
 */
export function globCanMatchPrefix(pattern: string, start: string): boolean {
  /** The positions reachable from `i` without reading: a `*` may match nothing. */
  const close = (positions: Set<number>) => {
    for (const i of positions) if (pattern[i] === '*') positions.add(i + 1);
    return positions;
  };
  let alive = close(new Set([0]));
  for (const char of start) {
    const next = new Set<number>();
    for (const i of alive) {
      if (i >= pattern.length) continue;
      const token = pattern[i]!;
      if (token === '*') next.add(i);
      else if (token === '?') next.add(i + 1);
      else if (token === '\\') {
        if (pattern[i + 1] === char) next.add(i + 2);
      } else if (token === '[') {
        const end = pattern.indexOf(']', i + 2);
        if (end < 0) {
          if (char === '[') next.add(i + 1); // an unclosed bracket: Redis reads the rest as the class; be strict
          continue;
        }
        if (classMatches(pattern.slice(i + 1, end), char)) next.add(end + 1);
      } else if (token === char) next.add(i + 1);
    }
    alive = close(next);
    if (alive.size === 0) return false;
  }
  return true;
}

function classMatches(body: string, char: string): boolean {
  const negated = body.startsWith('^');
  const items = negated ? body.slice(1) : body;
  let found = false;
  for (let i = 0; i < items.length; i++) {
    let low = items[i]!;
    if (low === '\\' && i + 1 < items.length) low = items[++i]!;
    if (items[i + 1] === '-' && i + 2 < items.length) {
      const high = items[i + 2]!;
      i += 2;
      if ((char >= low && char <= high) || (char >= high && char <= low)) found = true;
    } else if (char === low) found = true;
  }
  return negated ? !found : found;
}

/**
 * Refuses a raw channel (or a raw pattern that could match one) in Errand's own namespace,
 * `<prefix>:`: queue events there settle result waiters and drive task watches, so nothing
 * but Errand's scripts may publish there, and what they carry is not for channel
 * subscribers. The Errand channels themselves (`<prefix>:ch:<name>`) stay open to raw
 * clients: a pattern may reach them if its first part names them literally.
 */
export function assertOutsideNamespace(name: string, prefix: string, pattern: boolean): void {
  const namespace = `${prefix}:`;
  const channels = `${prefix}:ch:`;
  const globbed = pattern && isPattern(name);
  const inside = globbed
    ? globCanMatchPrefix(name, namespace) && !name.startsWith(channels) // the prefix holds no glob characters
    : name.startsWith(namespace) && !name.startsWith(channels);
  if (inside) {
    throw new ValidationError(
      `raw channel ${pattern && isPattern(name) ? 'pattern ' : ''}${JSON.stringify(name)} reaches into Errand's own namespace "${namespace}" ` +
        '(its internal queue events): choose a name outside it, narrow the pattern, or drop raw for an Errand JSON channel',
    );
  }
}

// ---- Durable topics ----------------------------------------------------------------------

const topicOptionsSchema = z
  .object({
    ...baseShape,
    /** How much of the topic's history Redis keeps; applied as messages are published. */
    retention: z
      .object({
        /** Keep at most this many messages (exactly; the oldest go first). Default 100,000. */
        maxLength: z.number().int().min(1).max(2 ** 40).default(100_000),
        /** Drop messages older than this, in ms. Default: no age limit. */
        maxAgeMs: z.number().int().min(1).max(2 ** 45).optional(),
      })
      .strict()
      .default({ maxLength: 100_000 }),
    /** Largest accepted message, as JSON bytes. Default 1 MiB. */
    maxMessageBytes: z.number().int().min(1).max(512 * MiB).default(MiB),
  })
  .strict();

export type TopicOptions = z.input<typeof topicOptionsSchema>;
export type ResolvedTopicOptions = Readonly<z.output<typeof topicOptionsSchema>>;

export function resolveTopicOptions(input: TopicOptions | undefined): ResolvedTopicOptions {
  const parsed = parseOptions('topic options', topicOptionsSchema, input);
  return Object.freeze({ ...parsed, retention: Object.freeze(parsed.retention) });
}

/** A stream id's shape: `<ms>` or `<ms>-<seq>`; see isStreamId for its bounds. */
export const STREAM_ID = /^\d{1,20}(-\d{1,20})?$/;

const MAX_ID_PART = 2n ** 64n - 1n;

/** A stream id Redis takes: both parts at most 2^64 - 1 (20 digits may be more). */
export function isStreamId(text: string): boolean {
  if (!STREAM_ID.test(text)) return false;
  const [ms = '0', seq = '0'] = text.split('-');
  return BigInt(ms) <= MAX_ID_PART && BigInt(seq) <= MAX_ID_PART;
}

/**
 * Where a group starts reading: 'new' (messages published after it was created),
 * 'earliest' (every retained message), a message id (that message and the ones after it),
 * or a time (messages published at or after it).
 */
export const fromSchema = z.union([
  z.literal('new'),
  z.literal('earliest'),
  z.string().refine(isStreamId, "use 'new', 'earliest', a message id like '1700000000000-0' (each part at most 2^64 - 1), or a Date"),
  z.date(),
]);

export type TopicStart = z.input<typeof fromSchema>;

const subscribeOptionsSchema = z
  .object({
    /** Handlers running at once in this member. Default 1. */
    concurrency: z.number().int().min(1).max(10_000).default(1),
    /** Where a new group starts reading; an existing group goes on where it was. Default 'new'. */
    from: fromSchema.default('new'),
    /**
     * How long a message may go without a heartbeat before another member takes it over,
     * and how long after a failed attempt the next one starts. Heartbeats run every
     * leaseMs/3. Use the same value in every member of a group. Default 30 s.
     */
    leaseMs: z.number().int().min(50).max(2 ** 31).default(30_000),
    /** Deliveries allowed per message, the first included; then it is dead-lettered. Default 3. */
    attempts: z.number().int().min(1).max(10_000).default(3),
  })
  .strict();

export type SubscribeOptions = z.input<typeof subscribeOptionsSchema>;
export type ResolvedSubscribeOptions = Readonly<z.output<typeof subscribeOptionsSchema>>;

export function resolveSubscribeOptions(input: SubscribeOptions | undefined): ResolvedSubscribeOptions {
  return Object.freeze(parseOptions('subscribe options', subscribeOptionsSchema, input));
}
