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
  if (!pattern && typeof name === 'string' && isPattern(name) && NAME_PATTERN_WITH_GLOBS.test(name)) {
    throw new ValidationError(
      `a pattern cannot be published to: ${JSON.stringify(name)} holds a wildcard (* or ?), and a message goes to one channel; name it exactly (e.g. ${JSON.stringify(name.replace(/[*?]+/g, 'eu'))}), and subscribe with the pattern`,
    );
  }
  return validateName('channel', name);
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
