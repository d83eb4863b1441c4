/**
 * The floor of the HTTP scenario: a bare node:http server doing the least an enqueue
 * endpoint can do (read the body, parse it as JSON, answer 201 with a body the size of
 * the gateway's), so the bench can say how much of the gateway's CPU per request any Node
 * HTTP server pays on this machine (sockets, parsing, the kernel's loopback) and how much
 * is the gateway's own (routing, validation, the enqueue, hooks). It runs in the gateway's
 * process, idle while the gateway is measured and the other way round.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the gateway answers a POST of one task with (a 16-digit id), byte for byte in size. */
const ANSWER = JSON.stringify({ id: '1765000000000001', created: true, state: 'waiting' });

export async function startFloorServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        response.writeHead(400).end();
        return;
      }
      response.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(ANSWER) });
      response.end(ANSWER);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
