/**
 * Loads the Lua scripts, one per atomic transition, and registers them on a client.
 *
 * Each script is assembled once per process: a generated prelude (the task-hash field names
 * and state codes from keys.ts and the default attempts from config.ts, so Lua and TypeScript cannot
 * disagree), then the files named by its
 * `--@include` lines, then its own text. ioredis calls them by SHA and loads them again on
 * NOSCRIPT (after a Redis restart or failover), in pipelines too.
 */
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { DEFAULT_ATTEMPTS } from '../config.js';
import { STATE_CODES, TASK_FIELDS, TOPIC_MESSAGE_FIELD } from './keys.js';

/** Script name → how many KEYS it takes (the rest of its arguments are ARGV). */
export const SCRIPT_KEY_COUNTS = {
  enqueue: 4,
  claim: 5,
  complete: 3,
  'complete-claim': 6,
  fail: 4,
  extend: 2,
  release: 2,
  reap: 1,
  cancel: 3,
  retry: 2,
  remove: 5,
  counts: 7,
  'set-paused': 2,
  'adopt-list': 5,
  'topic-publish': 1,
  'topic-join': 1,
  'topic-reclaim': 3,
  'topic-ack': 2,
  'topic-fail': 3,
  'topic-extend': 1,
  'topic-leave': 1,
} as const;

export type ScriptName = keyof typeof SCRIPT_KEY_COUNTS;
type Arg = string | number;
export type RedisClient = Redis | Cluster;

const scriptsDir = new URL('./scripts/', import.meta.url);
let sources: Map<ScriptName, string> | undefined;

function prelude(): string {
  const fields = Object.entries(TASK_FIELDS)
    .map(([name, field]) => `${name} = '${field}'`)
    .join(', ');
  const states = Object.entries(STATE_CODES)
    .map(([state, code]) => `${state} = '${code}'`)
    .join(', ');
  return (
    `local F = { ${fields} }\nlocal S = { ${states} }\n` +
    `local DEFAULT_ATTEMPTS = ${DEFAULT_ATTEMPTS}\nlocal TOPIC_MESSAGE_FIELD = '${TOPIC_MESSAGE_FIELD}'\n`
  );
}

/** One top-level definition of a library file (`local function name` or `local NAME =`), with the comment above it. */
interface Definition {
  name: string;
  text: string;
}

const DEFINITION = /^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)/;

/** Splits a library file into its top-level definitions; its leading comment is dropped. */
function definitionsOf(path: string, text: string): Definition[] {
  const definitions: Definition[] = [];
  let comment: string[] = [];
  let current: Definition | undefined;
  for (const line of text.split('\n')) {
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

/**
 * A script's text with its `--@include` lines replaced by the library definitions it uses,
 * directly or through other definitions, in library order. Every definition is built again
 * on every call of a script (Redis runs the whole chunk), so a script that carries only what
 * it needs costs less per call.
 */
function assemble(name: string): string {
  const text = readFileSync(new URL(`${name}.lua`, scriptsDir), 'utf8');
  const includes = [...text.matchAll(/^--@include (\S+)$/gm)].map((match) => match[1]!);
  const library = includes.flatMap((path) => definitionsOf(path, readFileSync(new URL(path, scriptsDir), 'utf8')));
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

/** Every script's full source (prelude and includes resolved), built on first use. */
export function scriptSources(): Map<ScriptName, string> {
  if (!sources) {
    const head = prelude();
    sources = new Map(
      (Object.keys(SCRIPT_KEY_COUNTS) as ScriptName[]).map((name) => [name, head + assemble(name)]),
    );
  }
  return sources;
}

function commandName(name: ScriptName): string {
  return `errand_${name.replace('-', '_')}`;
}

/**
 * Registers scripts on a client (idempotent): `names`, or every script. A client that
 * pipelines pays per registered script for every pipeline it builds (ioredis copies them
 * onto each), so hot clients register only what they call.
 */
export function defineScripts(client: RedisClient, names?: readonly ScriptName[]): void {
  for (const [name, lua] of scriptSources()) {
    if (names && !names.includes(name)) continue;
    const command = commandName(name);
    if (typeof (client as unknown as Record<string, unknown>)[command] === 'function') continue;
    client.defineCommand(command, { numberOfKeys: SCRIPT_KEY_COUNTS[name], lua });
  }
}

type ScriptCaller = (...args: Arg[]) => Promise<unknown>;

/** Runs a script on a client on which `defineScripts` was called. */
export function runScript(client: RedisClient, name: ScriptName, keys: string[], args: Arg[]): Promise<unknown> {
  const call = (client as unknown as Record<string, ScriptCaller>)[commandName(name)];
  if (!call) throw new Error(`script ${name} is not defined on this client`);
  return call.call(client, ...keys, ...args);
}

/** Queues a script call on a pipeline (one round trip for several transitions). */
export function pipeScript(pipeline: ChainableCommander, name: ScriptName, keys: string[], args: Arg[]): void {
  const call = (pipeline as unknown as Record<string, (...a: Arg[]) => unknown>)[commandName(name)];
  if (!call) throw new Error(`script ${name} is not defined on this pipeline's client`);
  call.call(pipeline, ...keys, ...args);
}
