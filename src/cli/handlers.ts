/**
 * Loads a handlers module for `errand worker`: a JavaScript or TypeScript file whose
 * default export maps queue names to handler functions,
 *
 *   export default { emails: async (task, { signal }) => sendEmail(task.payload) };
 *
 * and checks it, so a module that does not export what is needed gets one line naming
 * the fix instead of a worker that silently does nothing.
 *
 * TypeScript files are compiled on the fly by tsx, an optional peer dependency (see
 * typescript.ts).
 */
import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError, type Handler } from '../index.js';
import { NAME_PATTERN } from '../config.js';
import { registerTypeScript } from './typescript.js';

export type Handlers = Record<string, Handler<unknown, unknown>>;

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);
const EXAMPLE = 'export default { queueName: async (task) => result }';

export async function loadHandlers(modulePath: string): Promise<Handlers> {
  const file = resolve(modulePath);
  const found = await stat(file).catch(() => undefined);
  if (!found?.isFile()) {
    throw new ValidationError(`handlers module ${JSON.stringify(modulePath)} not found (looked for ${file}): give the path of a .js or .ts file`);
  }
  if (TYPESCRIPT.has(extname(file))) await registerTypeScript(`handlers module ${modulePath}`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    // The module's own error (a syntax error, a throw at its top level): the user's to fix.
    throw new Error(`handlers module ${modulePath} failed to load: ${(error as Error).message}`, { cause: error });
  }
  return checkHandlers(modulePath, unwrapDefault(module.default));
}

/** TypeScript compiled as CommonJS puts the default export one level down. */
function unwrapDefault(exported: unknown): unknown {
  if (exported && typeof exported === 'object' && (exported as { __esModule?: boolean }).__esModule && 'default' in exported) {
    return (exported as { default: unknown }).default;
  }
  return exported;
}

function checkHandlers(modulePath: string, exported: unknown): Handlers {
  if (exported === undefined) {
    throw new ValidationError(`handlers module ${modulePath} has no default export: add ${EXAMPLE}`);
  }
  if (exported === null || typeof exported !== 'object' || Array.isArray(exported)) {
    const what = exported === null ? 'null' : Array.isArray(exported) ? 'an array' : `a ${typeof exported}`;
    throw new ValidationError(`handlers module ${modulePath} exports ${what} by default; it must export an object of handlers: ${EXAMPLE}`);
  }
  const entries = Object.entries(exported);
  if (!entries.length) throw new ValidationError(`handlers module ${modulePath} exports no handlers: ${EXAMPLE}`);
  for (const [queue, handler] of entries) {
    if (!NAME_PATTERN.test(queue)) {
      throw new ValidationError(
        `handlers module ${modulePath}: ${JSON.stringify(queue)} is not a valid queue name (use 1-128 characters from A-Z a-z 0-9 . _ -)`,
      );
    }
    if (typeof handler !== 'function') {
      throw new ValidationError(`handlers module ${modulePath}: the handler for queue "${queue}" is ${describe(handler)}, not a function: ${EXAMPLE}`);
    }
  }
  return exported as Handlers;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
