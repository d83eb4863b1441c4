/**
 * The scripts as one Redis Functions library (Redis 7.0+), and its loading on a client.
 *
 * Redis runs a script's whole chunk at every EVALSHA: the prelude's tables and every library
 * definition the script carries are built again each call, which costs the worker's claim
 * more than half its Redis time when the queue is empty. A Functions library is run once,
 * at `FUNCTION LOAD`: the tables and definitions are built once, and each call runs only its
 * script's own body (measured on an empty claim: 22 µs a call as a script, 13 as a function).
 *
 * The library holds the prelude (with `base` an upvalue each call sets from its fence), every
 * library definition once, and one function per script whose body is the script's own text
 * (so `KEYS` and `ARGV` are the function's parameters). Its name carries a hash of its code:
 * processes of different Errand versions each load their own and call their own, side by
 * side (an old version's library stays until `FUNCTION DELETE`; it costs a few hundred KB).
 * On a Cluster, every master gets it. Where Redis has no Functions (6.2), scripts.ts runs the
 * scripts with EVALSHA as before.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient, ScriptName } from './scripts.js';

export interface FunctionLibrary {
  /** `errand_<hash>`: the library's name. */
  name: string;
  /** What FUNCTION LOAD takes. */
  code: string;
  /** The function of each script. */
  functions: ReadonlyMap<ScriptName, string>;
}

/** How a client runs the scripts, once known: as functions, or (Redis 6.2) with EVALSHA. */
export type RunMode = 'functions' | 'eval';

/** Builds a library from its parts (scripts.ts assembles them). */
export function buildLibrary(parts: {
  prelude: string;
  definitions: string;
  bodies: ReadonlyMap<ScriptName, string>;
  /** Redis's function flags of a script ('no-writes', 'allow-oom'); none by default. */
  flags?: Partial<Record<ScriptName, readonly string[]>>;
}): FunctionLibrary {
  const hash = createHash('sha1')
    .update(parts.prelude)
    .update(parts.definitions)
    .update([...parts.bodies.values()].join('\n'))
    .digest('hex')
    .slice(0, 12);
  const name = `errand_${hash}`;
  const functions = new Map<ScriptName, string>();
  const registrations: string[] = [];
  for (const [script, body] of parts.bodies) {
    const fn = `${name}_${script.replaceAll('-', '_')}`;
    functions.set(script, fn);
    const flags = parts.flags?.[script]?.length ? `, flags={${parts.flags[script]!.map((flag) => `'${flag}'`).join(', ')}}` : '';
    registrations.push(
      `redis.register_function{function_name='${fn}'${flags}, callback=function(KEYS, ARGV)\n` +
        `base = string.sub(KEYS[1], 1, -(#R.fence + 1))\n${body}\nend}\n`,
    );
  }
  return { name, code: `#!lua name=${name}\n${parts.prelude}\n${parts.definitions}\n${registrations.join('')}`, functions };
}

interface ClientState {
  mode: RunMode | undefined;
  loading: Promise<RunMode> | undefined;
  /** After a failed load, the next is tried no sooner than this (epoch ms). */
  retryAt: number;
}

/** How long a client runs its scripts with EVALSHA after a failed load before trying again. */
const LOAD_RETRY_MS = 5_000;

const states = new WeakMap<RedisClient, ClientState>();

function stateOf(client: RedisClient): ClientState {
  let state = states.get(client);
  if (!state) {
    state = { mode: undefined, loading: undefined, retryAt: 0 };
    states.set(client, state);
    // After a reconnect the server may be a new one (a restart without persistence, a
    // failover to a node that never had the library): load it again, first thing.
    client.on('ready', () => {
      if (state!.mode === 'functions') state!.loading = undefined;
    });
  }
  return state;
}

/** The mode a client's scripts run in, if known yet (pipelines need it synchronously). */
export function knownMode(client: RedisClient): RunMode | undefined {
  return states.get(client)?.mode;
}

function isUnknownCommand(error: unknown): boolean {
  return /unknown command|ERR unknown subcommand/i.test((error as Error)?.message ?? '');
}

/** A reply saying the function is not on the node (a restart, a failover, a new node). */
export function isFunctionMissing(error: unknown): boolean {
  return /Function not found/i.test((error as Error)?.message ?? '');
}

async function loadOn(node: Redis, library: FunctionLibrary): Promise<RunMode> {
  try {
    await node.call('FUNCTION', 'LOAD', library.code);
  } catch (error) {
    if (/already exists/i.test((error as Error).message)) return 'functions';
    // No Functions (Redis 6.2), or not for this user (an ACL without +@scripting's FUNCTION).
    if (isUnknownCommand(error) || /^NOPERM/.test((error as Error).message)) return 'eval';
    throw error;
  }
  return 'functions';
}

/**
 * Loads the library on the client's server (every master of a Cluster), once per client and
 * again after each reconnect; resolves with how the client runs scripts. A failed load is
 * tried again at the next call.
 */
export function loadLibrary(client: RedisClient, library: FunctionLibrary): Promise<RunMode> {
  const state = stateOf(client);
  // A load that failed (out of memory, a read-only replica, Redis away) is not sent again
  // (the library is ~100 KB) at every call: calls run with EVALSHA meanwhile.
  if (!state.loading && Date.now() < state.retryAt) return Promise.reject(new Error('the scripts library failed to load a moment ago'));
  state.loading ??= (async () => {
    // A Cluster knows its masters once it is ready (a new client's first call comes sooner).
    // (A client closed meanwhile never gets ready: the load fails instead of waiting forever.)
    if (client instanceof Cluster && client.status !== 'ready') {
      const ended = once(client, 'end').then(() => Promise.reject(new Error('the connection was closed')));
      await Promise.race([once(client, 'ready'), ended]);
    }
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    if (!nodes.length) throw new Error('no Redis master to load the scripts on yet');
    const modes = await Promise.all(nodes.map((node) => loadOn(node, library)));
    const mode: RunMode = modes.every((m) => m === 'functions') ? 'functions' : 'eval';
    state.mode = mode;
    return mode;
  })().catch((error: unknown) => {
    state.loading = undefined;
    state.retryAt = Date.now() + LOAD_RETRY_MS;
    throw error;
  });
  return state.loading;
}

/** Forgets that the library is loaded (a call found it missing): the next call loads it again. */
export function forgetLibrary(client: RedisClient): void {
  const state = states.get(client);
  if (state) state.loading = undefined;
}
