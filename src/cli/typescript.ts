/**
 * Lets the CLI import TypeScript files (a handlers module, the benchmark in bench/): tsx's
 * ESM and CommonJS hooks, registered once per process on first need. The built CLI runs on
 * plain Node, which cannot import .ts files; that is why tsx is a runtime dependency.
 */

let registered: Promise<void> | undefined;

export function registerTypeScript(): Promise<void> {
  registered ??= (async () => {
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    cjs.register();
    esm.register();
  })();
  return registered;
}
