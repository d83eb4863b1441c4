/**
 * The entry point of a thread or process that runs a worker's handlers in isolation
 * (started by executor.ts). It loads the handler module once, then runs one task at a
 * time as the worker sends them, forwarding the handler's progress and log lines and
 * applying aborts to the handler's signal; the worker terminates it when a handler runs
 * past its timeout, so nothing here has to be able to stop one.
 *
 * It imports little (a thread or process starts for every slot): no Redis client, no
 * option schemas. The handler module exports the handler as its default export (or as
 * `handler`), or a default object mapping queue names to handlers, like `errand worker`'s
 * modules.
 */
import { parentPort } from 'node:worker_threads';
import { encodeJson } from '../../json.js';
import { toRecord, type AbortMessage, type FromRuntime, type InitMessage, type RunMessage, type ToRuntime } from './protocol.js';

type Handler = (task: unknown, context: unknown) => unknown;

function send(message: FromRuntime): void {
  if (parentPort) parentPort.postMessage(message);
  else process.send?.(message);
}

let init: InitMessage | undefined;
let handler: Handler | undefined;
/** Tasks running now (one at a time, as the worker sends them). */
const running = new Set<string>();
const controllers = new Map<string, AbortController>();
const aborted = new Map<string, AbortMessage['reason']>();

async function load(message: InitMessage): Promise<void> {
  init = message;
  try {
    const module = (await import(message.handler)) as Record<string, unknown>;
    let exported = module.default;
    // TypeScript compiled as CommonJS puts the default export one level down.
    if (exported && typeof exported === 'object' && 'default' in exported && (exported as { __esModule?: boolean }).__esModule) {
      exported = (exported as { default: unknown }).default;
    }
    if (exported && typeof exported === 'object' && typeof (exported as Record<string, unknown>)[message.queue] === 'function') {
      exported = (exported as Record<string, unknown>)[message.queue];
    }
    if (typeof exported !== 'function' && typeof module.handler === 'function') exported = module.handler;
    if (typeof exported !== 'function') {
      throw new TypeError(
        `handler module ${message.handler} exports no handler for queue "${message.queue}": ` +
          `export default async (task, context) => result, or export default { ${message.queue}: async (task) => result }`,
      );
    }
    handler = exported as Handler;
    send({ t: 'ready' });
  } catch (error) {
    send({ t: 'load-failed', error: toRecord(error) });
  }
}

async function run(message: RunMessage): Promise<void> {
  const { id } = message;
  const limits = init!;
  const task: Record<string, unknown> = {
    id,
    queue: limits.queue,
    payload: JSON.parse(message.payload),
    attempt: message.attempt,
    maxAttempts: message.maxAttempts,
    createdAt: message.createdAt,
  };
  if (message.group) task.group = message.group;
  if (message.parent) {
    const bar = message.parent.indexOf('|');
    task.parent = { queue: message.parent.slice(0, bar), id: message.parent.slice(bar + 1) };
  }
  if (message.chained) task.previous = task.payload;
  const children = message.children ?? {};
  running.add(id);
  const context = {
    get signal(): AbortSignal {
      let controller = controllers.get(id);
      if (!controller) {
        controller = new AbortController();
        controllers.set(id, controller);
        const reason = aborted.get(id);
        if (reason) controller.abort(Object.assign(new Error(reason.message), { name: reason.name }));
      }
      return controller.signal;
    },
    progress(value: unknown): void {
      send({ t: 'progress', id, json: encodeJson(value, 'progress', limits.maxProgressBytes) });
    },
    log(message: string): void {
      send({ t: 'log', id, text: typeof message === 'string' ? message : String(message) });
    },
    children(): Promise<Record<string, unknown>> {
      return Promise.resolve(children);
    },
  };
  try {
    const value = await handler!(task, context);
    let json: string;
    try {
      json = value === undefined ? '' : encodeJson(value, 'result', limits.maxResultBytes);
    } catch (error) {
      // A result that cannot be stored will not become storable by retrying.
      send({ t: 'failed', id, error: { ...toRecord(error), name: 'UnrecoverableError', kind: 'unrecoverable' } });
      return;
    }
    send({ t: 'done', id, json });
  } catch (error) {
    send({ t: 'failed', id, error: toRecord(error) });
  } finally {
    running.delete(id);
    controllers.delete(id);
    aborted.delete(id);
  }
}

function onMessage(message: ToRuntime): void {
  if (message.t === 'init') void load(message);
  else if (message.t === 'run') void run(message);
  else if (running.has(message.id)) {
    aborted.set(message.id, message.reason);
    controllers.get(message.id)?.abort(Object.assign(new Error(message.reason.message), { name: message.reason.name }));
  }
}

if (parentPort) parentPort.on('message', onMessage);
else {
  process.on('message', onMessage);
  // The worker went away (closed, crashed): nothing here is worth finishing alone.
  process.on('disconnect', () => process.exit(0));
}
