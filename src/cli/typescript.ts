/**
 * Lets the CLI import TypeScript files (a handlers module, the benchmark in bench/): tsx's
 * ESM and CommonJS hooks, registered once per process on first need. The built CLI runs on
 * plain Node, which cannot import .ts files.
 *
 * tsx is an optional peer dependency (it brings esbuild, which a library user who writes
 * JavaScript, or compiles TypeScript first, does not need): it is looked for beside errand,
 * then in the project the command runs from; when it is in neither, the error says how to
 * install it.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError } from './cli-error.js';

let registered: Promise<void> | undefined;

/** `what` names the TypeScript file, for the message when tsx is missing. */
export function registerTypeScript(what: string): Promise<void> {
  registered ??= (async () => {
    const [esm, cjs] = await Promise.all([importTsx('tsx/esm/api', what), importTsx('tsx/cjs/api', what)]);
    (cjs as { register(): void }).register();
    (esm as { register(): void }).register();
  })();
  registered.catch(() => (registered = undefined)); // installed meanwhile: the next call tries again
  return registered;
}

async function importTsx(specifier: string, what: string): Promise<unknown> {
  try {
    return await import(specifier);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  // Not beside errand (a global or npx install): the user's project may have it.
  let resolved: string;
  try {
    resolved = createRequire(join(process.cwd(), 'package.json')).resolve(specifier);
  } catch {
    throw new CliError(
      'TYPESCRIPT_UNAVAILABLE',
      `${what} is TypeScript, and running TypeScript needs tsx, which is not installed: ` +
        'npm install --save-dev tsx (in the project that runs errand), or compile it to JavaScript and give the .js file',
    );
  }
  return import(pathToFileURL(resolved).href);
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
