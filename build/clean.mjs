// Empties dist/ before a package build (`npm pack` / `npm publish` run it through
// `prepack`), so a file whose source was deleted or renamed is never shipped.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

rmSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true, force: true });
