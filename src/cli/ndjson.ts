/**
 * Reads NDJSON payloads (one JSON document per line) and checks every line before the
 * caller sends any, so a bad line 9,000 leaves the queue untouched. Blank lines are
 * skipped but still counted, so line numbers match an editor's.
 */
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { PayloadTooLargeError, ValidationError } from '../index.js';

/** Every payload of the input, or a ValidationError naming the first bad line. */
export async function readNdjson(input: NodeJS.ReadableStream, source: string, maxPayloadBytes: number): Promise<unknown[]> {
  const payloads: unknown[] = [];
  let lineNumber = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNumber++;
    if (!line.trim()) continue;
    let payload: unknown;
    try {
      payload = JSON.parse(line);
    } catch (error) {
      throw new ValidationError(`${source} line ${lineNumber}: invalid JSON (${(error as Error).message}): each line must hold one JSON document`);
    }
    // The same limit the queue applies, checked here so no batch is sent before a late line fails.
    if (line.length > maxPayloadBytes / 3) {
      const bytes = Buffer.byteLength(JSON.stringify(payload));
      if (bytes > maxPayloadBytes) {
        throw new ValidationError(`${source} line ${lineNumber}: ${new PayloadTooLargeError('payload', bytes, maxPayloadBytes).message}`);
      }
    }
    payloads.push(payload);
  }
  return payloads;
}

/** Payloads from an NDJSON file, with a usage error when it cannot be opened. */
export async function readNdjsonFile(path: string, maxPayloadBytes: number): Promise<unknown[]> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new ValidationError(`cannot read --file ${JSON.stringify(path)}: ${(error as Error).message}`);
  }
  try {
    return await readNdjson(handle.createReadStream({ autoClose: false }), path, maxPayloadBytes);
  } finally {
    await handle.close();
  }
}
