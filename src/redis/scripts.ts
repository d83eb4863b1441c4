/**
 * Assembles the Lua scripts, one per atomic transition, registers them on clients, and
 * runs typed calls of them. What each script takes and answers is owned by one function
 * per script in queue-scripts.ts, schedule-scripts.ts and topic-scripts.ts; nothing else
 * builds KEYS or ARGV.
 *
 * Each script is assembled once per process and per kind of deployment: a generated
 * prelude (task-hash fields, state codes, meta and settings fields and key-role suffixes
 * from keys.ts, status codes from status.ts, the default attempts and retention from
 * config.ts, the publish command, and `base`, derived from KEYS[1], the fence), then the
 * library definitions the script
 * uses from the files named by its `--@include` lines (and theirs), then its own text.
 * On Redis 7+ all scripts run as one Functions library (functions.ts: the prelude and the
 * definitions built once, at load; each function is a script's own text), loaded per client
 * and again when a call finds it missing. Elsewhere, or while the library cannot be loaded,
 * ioredis calls the assembled scripts by SHA and loads them again on NOSCRIPT.
 */
import { readFileSync } from 'node:fs';
import { Cluster, type ChainableCommander, type Redis } from 'ioredis';
import { buildLibrary, forgetLibrary, isFunctionMissing, knownMode, loadLibrary, type FunctionLibrary } from './functions.js';
import { DEFAULT_ATTEMPTS, DEFAULT_RETENTION } from '../config.js';
import { CRON_END, WAKE_MEMBER, GROUP_FIELDS, keyRoleSuffixes, META_FIELDS, SCHEDULE_FIELDS, SCHEDULE_RUN_PREFIX, SCHEDULE_SLOTS_LOW, SETTINGS_FIELDS, STATE_CODES, TASK_FIELDS, TOPIC_MESSAGE_FIELD, TOPIC_TRACE_FIELD } from './keys.js';
import { Status } from './status.js';

/** Script name → how many KEYS it takes (the rest of its arguments are ARGV). */
export const SCRIPT_KEY_COUNTS = {
  enqueue: 2,
  claim: 2,
  complete: 2,
  'complete-claim': 2,
  fail: 2,
  extend: 2,
  release: 2,
  reap: 2,
  cancel: 2,
  retry: 2,
  remove: 2,
  counts: 2,
  'set-paused': 2,
  configure: 2,
  defer: 2,
  'group-configure': 2,
  'group-list': 2,
  'schedule-upsert': 2,
  'schedule-remove': 2,
  'schedule-pause': 2,
  'schedule-slots': 2,
  'schedule-run': 2,
  'schedule-fire': 2,
  'adopt-list': 3,
  progress: 2,
  'task-log': 2,
  'flow-ids': 2,
  'flow-create': 2,
  'flow-release': 2,
  'flow-record': 2,
  'flow-clear': 2,
  'topic-publish': 2,
  'topic-join': 2,
  'topic-reclaim': 2,
  'topic-ack': 2,
  'topic-fail': 2,
  'topic-extend': 2,
  'topic-leave': 2,
} as const;

export type ScriptName = keyof typeof SCRIPT_KEY_COUNTS;
export type Arg = string | number;
export type RedisClient = Redis | Cluster;

/**
 * One call of a script: its KEYS (the fence first), ARGV, and how its reply is read. Built
 * only by the typed functions of queue-scripts.ts, schedule-scripts.ts and topic-scripts.ts.
 */
export interface ScriptCall<T> {
  readonly name: ScriptName;
  readonly keys: readonly string[];
  readonly args: readonly Arg[];
  decode(reply: unknown): T;
}

/** How scripts announce events: a cluster keeps a queue's events on its shard. */
type Variant = 'PUBLISH' | 'SPUBLISH';

const scriptsDir = new URL('./scripts/', import.meta.url);
const sources = new Map<Variant, Map<ScriptName, string>>();

function luaTable(entries: Record<string, string | number>): string {
  return `{ ${Object.entries(entries)
    .map(([name, value]) => `${name} = ${typeof value === 'number' ? value : `'${value}'`}`)
    .join(', ')} }`;
}

function prelude(publish: Variant): string {
  return [
    `local F = ${luaTable(TASK_FIELDS)}`,
    `local S = ${luaTable(STATE_CODES)}`,
    `local STATUS = ${luaTable(Status)}`,
    `local R = ${luaTable(keyRoleSuffixes())}`,
    `local M = ${luaTable(META_FIELDS)}`,
    `local SET = ${luaTable(SETTINGS_FIELDS)}`,
    `local GL = ${luaTable(GROUP_FIELDS)}`,
    `local SF = ${luaTable(SCHEDULE_FIELDS)}`,
    `local SETTING_DEFAULTS = ${luaTable({
      completedCount: DEFAULT_RETENTION.completed.count,
      completedMaxAgeMs: DEFAULT_RETENTION.completed.maxAgeMs,
      failedCount: DEFAULT_RETENTION.failed.count,
      failedMaxAgeMs: DEFAULT_RETENTION.failed.maxAgeMs,
    })}`,
    `local DEFAULT_ATTEMPTS = ${DEFAULT_ATTEMPTS}`,
    `local SCHEDULE_RUN_PREFIX = '${SCHEDULE_RUN_PREFIX}'`,
    `local CRON_END = '${CRON_END}'`,
    `local WAKE_MEMBER = '${WAKE_MEMBER}'`,
    `local SCHEDULE_SLOTS_LOW = ${SCHEDULE_SLOTS_LOW}`,
    `local TOPIC_MESSAGE_FIELD = '${TOPIC_MESSAGE_FIELD}'`,
    `local TOPIC_TRACE_FIELD = '${TOPIC_TRACE_FIELD}'`,
    `local PUBLISH = '${publish}'`,
    // Every key a script builds starts with the fence's base: it is in the fence's slot.
    `local base = string.sub(KEYS[1], 1, -(#R.fence + 1))`,
    '',
  ].join('\n');
}

/** One top-level definition of a library file (`local function name` or `local NAME =`), with the comment above it. */
interface Definition {
  name: string;
  text: string;
}

const DEFINITION = /^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)/;
const INCLUDE = /^--@include (\S+)$/gm;

function read(path: string): string {
  return readFileSync(new URL(path, scriptsDir), 'utf8');
}

/** Splits a library file into its top-level definitions; its leading comment and include lines are dropped. */
function definitionsOf(path: string, text: string): Definition[] {
  const definitions: Definition[] = [];
  let comment: string[] = [];
  let current: Definition | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('--@include ')) continue;
    if (/^local [A-Za-z_][A-Za-z0-9_]*\s*,/.test(line)) {
      throw new Error(`${path}: "${line}": one name per top-level local in a library, so each is included only where used`);
    }
    const name = DEFINITION.exec(line)?.[1];
    if (name) {
      current = { name, text: [...comment, line].join('\n') + '\n' };
      definitions.push(current);
      comment = [];
    } else if (line.startsWith('--')) {
      comment.push(line); // a comment at the margin introduces the next definition
    } else if (current) {
      current.text += [...comment, line].join('\n') + '\n';
      comment = [];
    } else if (line.trim() !== '') {
      throw new Error(`${path}: code before the first "local" definition; a library holds definitions only`);
    }
  }
  return definitions;
}

/** The library files a text includes, with theirs first, each once. */
function includesOf(text: string, seen: string[] = [], visiting = new Set<string>()): string[] {
  for (const match of text.matchAll(INCLUDE)) {
    const path = match[1]!;
    if (seen.includes(path) || visiting.has(path)) continue;
    visiting.add(path);
    includesOf(read(path), seen, visiting);
    seen.push(path);
  }
  return seen;
}

/**
 * A script's text with its `--@include` lines replaced by the library definitions it uses,
 * directly or through other definitions, in library order. Every definition is built again
 * on every call of a script (Redis runs the whole chunk), so a script that carries only what
 * it needs costs less per call.
 */
function assemble(name: string): string {
  const text = read(`${name}.lua`);
  const library = includesOf(text).flatMap((path) => definitionsOf(path, read(path)));
  const body = text.replace(/^--@include (\S+)\n/gm, '');
  const used = new Set<string>();
  const pending = [body];
  while (pending.length) {
    const source = pending.pop()!;
    for (const definition of library) {
      if (!used.has(definition.name) && new RegExp(`\\b${definition.name}\\b`).test(source)) {
        used.add(definition.name);
        pending.push(definition.text);
      }
    }
  }
  const included = library.filter((definition) => used.has(definition.name)).map((definition) => definition.text).join('');
  // The library goes where the first include line was (after the script's header comment).
  const at = text.indexOf('--@include ');
  return at < 0 ? text : body.slice(0, at) + included + body.slice(at);
}

/** Every script's full source (prelude and includes resolved) for one kind of deployment, built on first use. */
export function scriptSources(variant: Variant = 'PUBLISH'): Map<ScriptName, string> {
  let built = sources.get(variant);
  if (!built) {
    const head = prelude(variant);
    built = new Map((Object.keys(SCRIPT_KEY_COUNTS) as ScriptName[]).map((name) => [name, head + assemble(name)]));
    sources.set(variant, built);
  }
  return built;
}

const libraries = new Map<Variant, FunctionLibrary>();

/**
 * Redis refuses a function without flags up front while it is over maxmemory (a script run
 * with EVALSHA was refused only at its first write). Reads stay answered ('no-writes'), and
 * removing tasks, the way to free memory, stays allowed ('allow-oom').
 */
const FUNCTION_FLAGS: Partial<Record<ScriptName, readonly string[]>> = {
  counts: ['no-writes'],
  'group-list': ['no-writes'],
  remove: ['allow-oom'],
};

/**
 * The scripts as one Functions library for one kind of deployment (functions.ts): the
 * prelude once, every library definition once, and each script's own text as a function.
 */
export function scriptLibrary(variant: Variant = 'PUBLISH'): FunctionLibrary {
  let library = libraries.get(variant);
  if (!library) {
    const names = Object.keys(SCRIPT_KEY_COUNTS) as ScriptName[];
    const paths = includesOf(names.map((name) => read(`${name}.lua`)).join('\n'));
    const definitions: Definition[] = [];
    const where = new Map<string, string>();
    for (const path of paths) {
      for (const definition of definitionsOf(path, read(path))) {
        const other = where.get(definition.name);
        if (other) throw new Error(`${definition.name} is defined in ${other} and in ${path}: names in lib/ must be unique (one library holds them all)`);
        where.set(definition.name, path);
        definitions.push(definition);
      }
    }
    const bodies = new Map(names.map((name) => [name, read(`${name}.lua`).replace(/^--@include (\S+)\n/gm, '')] as const));
    const head = prelude(variant).replace(/^local base = .*$/m, 'local base');
    library = buildLibrary({ prelude: head, definitions: definitions.map((definition) => definition.text).join(''), bodies, flags: FUNCTION_FLAGS });
    libraries.set(variant, library);
  }
  return library;
}

function variantOf(client: RedisClient): Variant {
  return client instanceof Cluster ? 'SPUBLISH' : 'PUBLISH';
}

/**
 * Loads the scripts on a client's server as a Functions library (Redis 7.0+; elsewhere they
 * run with EVALSHA). Calls do it themselves when needed; a worker awaits it before its first
 * pipeline, so its pipelines call functions too. Never rejects: a load that failed (Redis
 * away) is tried again by the next call.
 */
export async function prepareScripts(client: RedisClient): Promise<void> {
  await loadLibrary(client, scriptLibrary(variantOf(client))).catch(() => undefined);
}

function commandName(name: ScriptName): string {
  return `errand_${name.replace('-', '_')}`;
}

/**
 * Registers scripts on a client (idempotent): `names`, or every script. A client that
 * pipelines pays per registered script for every pipeline it builds (ioredis copies them
 * onto each), so hot clients register only what they call. A Cluster gets the variant
 * that announces events on shard channels.
 */
export function defineScripts(client: RedisClient, names?: readonly ScriptName[]): void {
  const variant: Variant = client instanceof Cluster ? 'SPUBLISH' : 'PUBLISH';
  for (const [name, lua] of scriptSources(variant)) {
    if (names && !names.includes(name)) continue;
    const command = commandName(name);
    if (typeof (client as unknown as Record<string, unknown>)[command] === 'function') continue;
    client.defineCommand(command, { numberOfKeys: SCRIPT_KEY_COUNTS[name], lua });
  }
}

type ScriptCaller = (...args: Arg[]) => Promise<unknown>;

/**
 * Runs a script call on a client and decodes its reply: as a function when the server has
 * Functions (loading the library first, and again when a call finds it missing), else with
 * EVALSHA (registering the script on first use). Once the client's mode is known the command
 * is written at once, in call order (the idle wait relies on its claim following its pop).
 */
export function runScript<T>(client: RedisClient, call: ScriptCall<T>): Promise<T> {
  const mode = knownMode(client);
  if (mode === 'functions') return callFunction(client, call);
  if (mode === 'eval') return evalScript(client, call);
  return loadLibrary(client, scriptLibrary(variantOf(client)))
    .catch(() => 'eval' as const) // Redis away: the script call says so, and the next call loads again
    .then((loaded) => (loaded === 'functions' ? callFunction(client, call) : evalScript(client, call)));
}

async function callFunction<T>(client: RedisClient, call: ScriptCall<T>): Promise<T> {
  const library = scriptLibrary(variantOf(client));
  const fn = library.functions.get(call.name)!;
  try {
    return call.decode(await client.call('FCALL', fn, call.keys.length, ...call.keys, ...call.args));
  } catch (error) {
    if (!isFunctionMissing(error)) throw error;
    // A restarted or newly promoted server without the library: load it, and call again.
    forgetLibrary(client);
    const reloaded = await loadLibrary(client, library).catch(() => 'eval' as const);
    // Not loadable now (out of memory, a read-only replica): this call runs as a script.
    if (reloaded !== 'functions') return evalScript(client, call);
    return call.decode(await client.call('FCALL', fn, call.keys.length, ...call.keys, ...call.args));
  }
}

async function evalScript<T>(client: RedisClient, call: ScriptCall<T>): Promise<T> {
  const command = commandName(call.name);
  if (typeof (client as unknown as Record<string, unknown>)[command] !== 'function') defineScripts(client, [call.name]);
  const caller = (client as unknown as Record<string, ScriptCaller>)[command]!;
  return call.decode(await caller.call(client, ...call.keys, ...call.args));
}

/**
 * Queues a script call on a pipeline (one round trip for several transitions); returns
 * the decoder for its reply. As a function once the client's library is loaded
 * (prepareScripts); else the script must be registered on the pipeline's client before the
 * pipeline was made (defineScripts). A reply saying the function is missing (a restarted
 * server) fails that call; the client's next runScript loads the library again.
 */
export function pipeScript<T>(pipeline: ChainableCommander, call: ScriptCall<T>): (reply: unknown) => T {
  const client = (pipeline as unknown as { redis: RedisClient }).redis;
  if (client && knownMode(client) === 'functions') {
    pipeline.call('FCALL', scriptLibrary(variantOf(client)).functions.get(call.name)!, call.keys.length, ...call.keys, ...call.args);
    return (reply) => call.decode(reply);
  }
  const caller = (pipeline as unknown as Record<string, (...a: Arg[]) => unknown>)[commandName(call.name)];
  if (!caller) throw new Error(`script ${call.name} is not defined on this pipeline's client`);
  caller.call(pipeline, ...call.keys, ...call.args);
  return (reply) => call.decode(reply);
}
