/**
 * Memory that requests could grow without bound (issue 12, item 8): the admin layer's
 * Queue objects (one per queue name a request mentions) are kept in a bounded LRU that
 * never closes a Queue under a waiter; and the bytes event streams hold for clients that do
 * not read are bounded for all streams together, the streams holding the most ended with a
 * final `overflow` event.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Admin } from '../src/admin/admin.js';
import { useRedis, useScope } from './support/fixtures.js';
import { call, eventually, listeningIn, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);
const MiB = 1024 * 1024;

describe('Queue objects of the admin layer', () => {
  it('are bounded: 3,000 unknown queue names through the gateway keep at most 1,000', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (let i = 0; i < 3_000; i++) expect((await call(gw, 'GET', `/v1/queues/unknown-${i}`)).status).toBe(200);
    expect(gw.admin.queueObjects).toBe(1_000);
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
  });

  it('are bounded for topics too: 3,000 unknown topic names keep at most 1,000, and a topic stream lets go of its own', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis);
    for (let i = 0; i < 3_000; i++) expect((await call(gw, 'GET', `/v1/topics/unknown-${i}`)).status).toBe(200);
    expect(gw.admin.topics.topicObjects).toBe(1_000);
    const stream = await fetch(`${gw.url}/v1/topics/streamed/events?group=g`);
    expect(stream.status).toBe(200);
    expect(gw.admin.topics.topicObjects).toBe(1_001);
    await stream.body?.cancel();
    await eventually(() => expect(gw.admin.topics.topicObjects).toBe(1_000)); // the member closes after its stream
  });

  it('never close a Queue that a waiter uses, and a closed idle one is made again on use', async () => {
    const s = scope();
    const admin = s.add(new Admin({ connection: redis.url, prefix: s.prefix, maxQueueObjects: 10 }));
    const busy = admin.queue<number, number>('busy');
    const task = await busy.enqueue(20);
    const result = busy.result(task.id, { timeoutMs: 20_000 });
    for (let i = 0; i < 100; i++) await admin.queue(`other-${i}`).counts();
    expect(admin.queueObjects).toBeLessThanOrEqual(11); // the ten most recent, and the busy one
    s.worker<number, number>('busy', async (t) => t.payload + 1);
    expect(await result).toBe(21);
    expect((await admin.queue('other-0').counts()).waiting).toBe(0);
  });
});

/** A GET over a plain socket that stops reading at once (a client slower than anything). */
function stalledStream(url: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
      let head = '';
      const onData = (chunk: Buffer) => {
        head += chunk.toString();
        if (!head.includes('event: subscribed')) return;
        socket.off('data', onData);
        socket.pause();
        resolve(socket);
      };
      socket.on('data', onData);
    });
    socket.on('error', reject);
  });
}

describe('bytes held for slow stream clients', () => {
  it('are bounded for all streams together: streams whose clients never read are cut off, publishing goes on', { timeout: 60_000 }, async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { maxStreamBufferBytes: MiB });
    const stalled = await Promise.all([0, 1, 2].map(() => stalledStream(gw.url, '/v1/channels/firehose/events')));
    const received = stalled.map(() => 0);
    const closed = stalled.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    for (const socket of stalled) socket.on('error', () => {}); // cut off by the gateway
    const message = 'x'.repeat(64 * 1024);
    // Far more than the kernel's socket buffers take: the rest would wait in the gateway.
    for (let i = 0; i < 400; i++) expect((await call(gw, 'POST', '/v1/channels/firehose/messages', { message })).status).toBe(200);
    // Every client that never read was cut off: it finds out once it reads again.
    stalled.forEach((socket, index) => {
      socket.on('data', (chunk: Buffer) => (received[index] = received[index]! + chunk.length));
      socket.resume();
    });
    await Promise.all(closed);
    for (const bytes of received) expect(bytes).toBeLessThan(400 * message.length);
  });
});
