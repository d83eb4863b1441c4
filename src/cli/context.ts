/**
 * What every command shares during one run: the global flags, and the Redis connection
 * and Admin opened on first use and closed when the command ends. Commands call
 * `checkRedis()` before their first Redis command (after checking their own arguments):
 * it says at once when Redis is away, refuses credentials, or may evict queue keys.
 */
import type { Command } from 'commander';
import { Admin } from '../admin/admin.js';
import { resolveQueueOptions } from '../config.js';
import { ValidationError } from '../index.js';
import { allowEvictionFromEnvironment } from '../gateway/start-settings.js';
import { CliConnection, resolveRedisUrl } from './connection.js';

export interface GlobalOptions {
  redis?: string;
  prefix?: string;
  json: boolean;
  debug: boolean;
  /** --unsafe-allow-eviction or ERRAND_UNSAFE_ALLOW_EVICTION=1: run on a Redis that may evict queue keys. */
  unsafeAllowEviction: boolean;
}

export class CliContext {
  private connection: CliConnection | undefined;
  private adminApi: Admin | undefined;
  private checked: Promise<void> | undefined;
  /**
   * The exit code of a command that ends without an error but not in success (e.g. a
   * benchmark whose runs failed; it printed its own report). Default 0.
   */
  exitCode = 0;

  constructor(private readonly program: Command) {}

  get options(): GlobalOptions {
    const opts = this.program.opts<Partial<GlobalOptions>>();
    return {
      redis: opts.redis,
      prefix: checkPrefix(opts.prefix ? '--prefix' : 'ERRAND_PREFIX', opts.prefix || process.env.ERRAND_PREFIX || undefined),
      json: opts.json === true,
      debug: opts.debug === true,
      unsafeAllowEviction: opts.unsafeAllowEviction === true || allowEvictionFromEnvironment(process.env),
    };
  }

  /** Once per run: Redis answers, takes the credentials, and will not evict queue keys. */
  checkRedis(): Promise<void> {
    this.checked ??= this.redis.check({ allowEviction: this.options.unsafeAllowEviction });
    return this.checked;
  }

  /** `--json`; read on its own, so an error in another flag can still be printed as JSON. */
  get json(): boolean {
    return this.program.opts<Partial<GlobalOptions>>().json === true;
  }

  get debug(): boolean {
    return this.program.opts<Partial<GlobalOptions>>().debug === true;
  }

  /** The checked Redis URL (for workers, which open their own patient connections). */
  get redisUrl(): string {
    return resolveRedisUrl(this.options.redis);
  }

  /** The fail-fast connection of this run, opened on first use. */
  get redis(): CliConnection {
    this.connection ??= new CliConnection(this.redisUrl);
    return this.connection;
  }

  /** The admin API over the fail-fast connection. */
  get admin(): Admin {
    this.adminApi ??= new Admin({ connection: this.redis.client, prefix: this.options.prefix });
    return this.adminApi;
  }

  /** Why Redis could not be reached, if that is what went wrong. */
  describeRedisFailure(): string | undefined {
    return this.connection?.describeFailure();
  }

  async close(): Promise<void> {
    const admin = this.adminApi;
    const connection = this.connection;
    this.adminApi = undefined;
    this.connection = undefined;
    this.checked = undefined;
    await admin?.close();
    await connection?.close();
  }
}

/** The prefix, checked by the engine's own rule, with a message naming where it came from. */
function checkPrefix(source: string, prefix: string | undefined): string | undefined {
  if (prefix === undefined) return undefined;
  try {
    resolveQueueOptions({ prefix });
  } catch {
    throw new ValidationError(`invalid ${source} ${JSON.stringify(prefix)}: use 1-64 characters from A-Z a-z 0-9 . _ -`);
  }
  return prefix;
}
