/**
 * The client bundle's files (app.js, app.css, built by build/dashboard.mjs with esbuild)
 * and the icon, served from memory with an ETag. They are found next to this module once
 * built (dist/dashboard/assets), or in dist/ when this module runs from src/ (tests build
 * the bundle there first). Read on first request and kept, so a gateway starts even
 * before the bundle exists and says how to build it instead of failing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f6feb"/><path d="M9 10h14M9 16h10M9 22h14" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>`;

const CANDIDATES = [new URL('./assets/', import.meta.url), new URL('../../dist/dashboard/assets/', import.meta.url)];

function entry(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export class Assets {
  private loaded: Map<string, Asset> | undefined;

  /** The directory holding the built bundle, if any. */
  static locate(): string | undefined {
    const dir = CANDIDATES.find((url) => existsSync(new URL('app.js', url)));
    return dir ? fileURLToPath(dir) : undefined;
  }

  /** Whether the bundle was found. */
  get built(): boolean {
    return this.load() !== undefined;
  }

  get(name: string): Asset | undefined {
    if (name === 'favicon.svg') return ICON_ASSET;
    return this.load()?.get(name);
  }

  private load(): Map<string, Asset> | undefined {
    if (this.loaded) return this.loaded;
    const dir = Assets.locate();
    if (!dir) return undefined; // looked for again next time: the build may have run since
    const files = new Map<string, Asset>();
    for (const [name, type] of Object.entries(FILES)) files.set(name, entry(readFileSync(join(dir, name)), type));
    this.loaded = files;
    return files;
  }
}

const ICON_ASSET = entry(Buffer.from(ICON), 'image/svg+xml');
