/**
 * What the scripts really touch, recorded with MONITOR while every script runs down each of
 * its paths, checked two ways:
 *
 * - fenced: every call declares its slot's fence first (with one more distinct key, so a
 *   migrating slot refuses it with TRYAGAIN), and every key or channel it touches is
 *   declared or starts with the fence's base, so it is in the fence's slot;
 * - documented: for each script, the key roles it writes are exactly those whose row in
 *   docs/redis-layout.md lists it under "written by", and the roles it touches at all are
 *   exactly those that list it under "written by" or "read by".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { META_FIELDS, QUEUE_KEY_ROLES, QueueKeys, SCHEDULE_FIELDS as SF, TOPIC_KEY_ROLES, TopicKeys } from '../src/redis/keys.js';
import * as queueScripts from '../src/redis/queue-scripts.js';
import * as flowScripts from '../src/redis/flow-scripts.js';
import { parseNotice } from '../src/flows/hand-over.js';
import * as scheduleScripts from '../src/redis/schedule-scripts.js';
import { runScript, SCRIPT_KEY_COUNTS, type ScriptCall, type ScriptName } from '../src/redis/scripts.js';
import * as topicScripts from '../src/redis/topic-scripts.js';
import { RedisServer } from './support/redis-server.js';
import { ScriptMonitor, type ScriptRun } from './support/monitor.js';

let server: RedisServer;
let client: Redis;
let monitor: ScriptMonitor;


function run<T>(call: ScriptCall<T>): Promise<T> {
  return runScript(client, call);
}

/** Every queue script down each of its paths; each path on a queue of its own, so none depends on another. */
async function exerciseQueues(queue: (name: string) => QueueKeys): Promise<void> {
  const record = (id: string, extra: Partial<queueScripts.TaskRecord> = {}): queueScripts.TaskRecord => ({
    id, payloadJson: '1', priority: 0, delayMs: 0, runAt: undefined, maxAttempts: 3, backoffJson: '', timeoutMs: undefined, dedupeKey: '', group: '', ...extra,
  });
  const claim = (k: QueueKeys, max: number, leaseMs = 60_000) => run(queueScripts.claim(k, { max, leaseMs }));
  const enqueue = (k: QueueKeys, tasks: queueScripts.EncodedTask[]) => run(queueScripts.enqueue(k, { tasks, partitions: 1 }));
  /** Settings fields of a queue, as configure writes them ('' removes one). */
  const configure = (k: QueueKeys, fields: Record<string, string>) => run(queueScripts.configure(k, Object.entries(fields)));
  // Small retention everywhere: the trimming paths run.
  const keepOne = { 'completed.count': '1', 'failed.count': '1' };

  // Enqueue: both forms, dedupe, a caller's id, a delay, a capacity, and a full queue.
  let k = queue('enqueue');
  await enqueue(k, ['1', '2']);
  await configure(k, { maxWaiting: '100' });
  await enqueue(k, [record('', { dedupeKey: 'd1', priority: 5 }), record('own-1'), record('later', { delayMs: 60_000 }), record('', { dedupeKey: 'd1' })]);
  await configure(k, { maxWaiting: '1' });
  await enqueue(k, ['3']);
  await configure(k, { maxWaiting: '' });
  // A partitioned queue's change: its last write releases the hold on `configuring`.
  await client.set(k.configuring, 'hold');
  await run(queueScripts.configure(k, [['maxWaiting', '']], { release: 'hold' }));
  await run(queueScripts.counts(k));

  // Claim: promotes a due retry, reaps an expired lease that dead-letters its task, and
  // another that goes back in line.
  k = queue('claim');
  await configure(k, keepOne);
  await enqueue(k, [record('dies', { maxAttempts: 1, dedupeKey: 'd' }), record('again'), record('retried')]);
  await claim(k, 2, 0); // dies and again, their leases expired at once
  const [retried] = (await claim(k, 1)).tasks;
  await run(queueScripts.fail(k, { attempts: [{ ...retried!, errorJson: '{}', retryDelayMs: 0 }] }));
  await claim(k, 10);

  // Complete-claim, complete (trimming the completed list), fail (retry and dead letter, trimming the failed list), extend, release.
  // complete-claim runs every path of both: it promotes a due retry (e), takes it and g,
  // and, short of work, reaps h's expired lease, dead-lettering it.
  k = queue('worker');
  await configure(k, keepOne);
  await enqueue(k, [record('h', { maxAttempts: 1, dedupeKey: 'dh' })]);
  await claim(k, 1, 0);
  await enqueue(k, [record('a', { dedupeKey: 'da' }), record('b', { dedupeKey: 'd' }), record('c'), record('d'), record('e'), record('f'), record('g')]);
  const [a, b, c, d, e, f] = (await claim(k, 6)).tasks;
  await run(queueScripts.fail(k, { attempts: [{ ...e!, errorJson: '{}', retryDelayMs: 0 }] }));
  await run(queueScripts.completeAndClaim(k, { finished: [{ ...a!, resultJson: '"ok"' }], claim: { max: 3, leaseMs: 60_000 } }));
  await run(queueScripts.complete(k, { finished: [{ ...b!, resultJson: '' }, { id: 'gone', token: '1', resultJson: '' }] }));
  await run(queueScripts.fail(k, { attempts: [{ ...c!, errorJson: '{}', retryDelayMs: -1 }, { ...d!, errorJson: '{}', retryDelayMs: -1 }] }));
  await run(queueScripts.extend(k, { leaseMs: 60_000, workerId: 'w', descriptionJson: '{}', leases: [f!, { id: 'gone', token: '1' }] }));
  await run(queueScripts.release(k, [f!, { id: 'gone', token: '1' }]));

  // The heartbeat's reaper: one lease back in line, one dead-lettered; finished tasks trimmed by age.
  k = queue('reap');
  await configure(k, { 'completed.count': '10', 'completed.maxAgeMs': '0', 'failed.count': '1' });
  await enqueue(k, [record('done'), record('dies', { maxAttempts: 1, dedupeKey: 'd' }), record('again', { priority: 2 })]);
  const [done] = (await claim(k, 1)).tasks;
  await run(queueScripts.complete(k, { finished: [{ ...done!, resultJson: '' }] }));
  await claim(k, 2, 0);
  // A cancelled task past its age (failed retention): the heartbeat trims it too.
  await enqueue(k, [record('dropped')]);
  await run(queueScripts.cancel(k, 'dropped'));
  await configure(k, { 'failed.maxAgeMs': '0' });
  await run(queueScripts.reap(k, { max: 100 }));

  // Admin actions: cancel in each live state, retry a failed and a cancelled task, remove in every state.
  k = queue('admin');
  await configure(k, keepOne);
  await enqueue(k, [record('c-wait', { priority: 2, dedupeKey: 'd' }), record('c-delay', { delayMs: 60_000 }), record('c-active'), record('r-failed', { maxAttempts: 1, dedupeKey: 'r' })]);
  await run(queueScripts.cancel(k, 'c-wait'));
  await run(queueScripts.cancel(k, 'c-delay'));
  const active = (await claim(k, 10)).tasks;
  await run(queueScripts.cancel(k, 'c-active'));
  await run(queueScripts.cancel(k, 'c-active')); // already finished
  await run(queueScripts.cancel(k, 'nope'));
  await run(queueScripts.fail(k, { attempts: [{ ...active.find((t) => t.id === 'r-failed')!, errorJson: '{}', retryDelayMs: -1 }] }));
  expect(await run(queueScripts.retry(k, 'r-failed'))).toMatchObject({ status: 0 });
  expect(await run(queueScripts.retry(k, 'c-active'))).toMatchObject({ status: 0 });
  await run(queueScripts.retry(k, 'c-active')); // not finished any more
  await enqueue(k, [record('rm-done'), record('rm-failed', { maxAttempts: 1 }), record('rm-cancelled'), record('rm-delayed', { delayMs: 60_000 }), record('rm-active')]);
  const lasts = (await claim(k, 10)).tasks;
  const lease = (id: string) => lasts.find((task) => task.id === id)!;
  await configure(k, { 'completed.count': '10', 'failed.count': '10' });
  await run(queueScripts.complete(k, { finished: [{ ...lease('rm-done'), resultJson: '' }] }));
  await run(queueScripts.fail(k, { attempts: [{ ...lease('rm-failed'), errorJson: '{}', retryDelayMs: -1 }] }));
  await enqueue(k, [record('rm-waiting', { priority: 7, dedupeKey: 'rm' })]);
  await run(queueScripts.cancel(k, 'rm-cancelled'));
  for (const id of ['rm-waiting', 'rm-delayed', 'rm-active', 'rm-done', 'rm-failed', 'rm-cancelled', 'nope']) await run(queueScripts.remove(k, id));

  // Pause and resume.
  k = queue('pause');
  await run(queueScripts.setPaused(k, true));
  await claim(k, 1);
  await run(queueScripts.setPaused(k, false));

  // Flows: ids reserved, nodes written (and a taken id refused), leaves released; children
  // finishing (a completion, a dead letter) leave notices, applied to their parents: one
  // released (a chain step, its payload the child's result), one failed by its child (its
  // pending child marked to cancel, its own parent told), then reopened by the child's
  // retry; a notice cleared; a waiting parent cancelled.
  // Parents on one queue, their children on another: the hand-over through notices.
  const kp = queue('flows');
  k = queue('flows-kids');
  const P = (id: string) => `${kp.queue}|${id}`;
  const C = (id: string) => `${k.queue}|${id}`;
  await run(flowScripts.reserveIds(k, 5));
  const node = (id: string, extra: Partial<flowScripts.FlowNodeRecord> = {}): flowScripts.FlowNodeRecord => ({
    id, payloadJson: '1', priority: 0, maxAttempts: 1, backoffJson: '', timeoutMs: undefined, parent: '', root: P('top'), childPolicy: '', chained: false, children: [], ...extra,
  });
  await run(flowScripts.createNodes(k, [node('c1', { parent: P('p1') }), node('c2', { parent: P('p1') }), node('c3', { parent: P('p1') }), node('c4', { parent: P('p2'), priority: 3 })]));
  await run(flowScripts.createNodes(kp, [
    node('p1', { parent: P('top'), childPolicy: 'fail', children: [C('c1'), C('c2'), C('c3')] }),
    node('p2', { childPolicy: 'fail', chained: true, children: [C('c4')] }),
    node('p3', { parent: P('top'), childPolicy: 'ignore', children: [C('c5')] }),
  ]));
  await run(flowScripts.createNodes(k, [node('c1')])); // taken
  await run(flowScripts.releaseNodes(k, ['c1', 'c2', 'c4']));
  const kids = (await claim(k, 3)).tasks;
  const kid = (id: string) => kids.find((task) => task.id === id)!;
  await run(queueScripts.complete(k, { finished: [{ ...kid('c1'), resultJson: '"one"' }, { ...kid('c4'), resultJson: '"four"' }] }));
  await run(queueScripts.fail(k, { attempts: [{ ...kid('c2'), errorJson: '{"name":"Error","message":"no"}', retryDelayMs: -1 }] }));
  const notices = await client.hgetall(k.notices);
  const recordNotice = (parent: string, child: string) => {
    const { version, outcome } = parseNotice(notices[child]!);
    return run(flowScripts.recordOutcomes(kp, parent, [{ child: C(child), version, outcome }]));
  };
  await recordNotice('p2', 'c4'); // released
  await recordNotice('p1', 'c1');
  await recordNotice('p1', 'c1'); // again: nothing
  await recordNotice('p1', 'c2'); // fails p1
  await run(flowScripts.recordOutcomes(kp, 'gone', [{ child: C('c2'), version: 1, outcome: 'c' }]));
  await run(flowScripts.clearNotices(k, [{ childId: 'c1', notice: notices['c1']! }, { childId: 'c2', notice: 'changed' }]));
  await run(queueScripts.retry(k, 'c2'));
  await run(flowScripts.recordOutcomes(kp, 'p1', [{ child: C('c2'), version: 2, outcome: 'r' }])); // p1 waits again
  await run(queueScripts.cancel(kp, 'p3'));
  await run(flowScripts.recordOutcomes(kp, 'p3', [{ child: C('c5'), version: 1, outcome: 'x' }])); // its cascade
  await run(queueScripts.retry(kp, 'p3')); // back to waiting for c5, marked to retry
  await run(queueScripts.retry(kp, 'p3')); // a retry cut short, finished
  await run(queueScripts.remove(kp, 'p3', { abandoned: true })); // the sweep's clean-up of an add never committed
  await run(queueScripts.remove(kp, 'p1'));
  // A parent on its children's queue records their completions in their own script: with
  // complete (released), and with complete-claim (released and claimed in the same call).
  const kh = queue('flows-here');
  const H = (id: string) => `${kh.queue}|${id}`;
  await run(flowScripts.createNodes(kh, [
    node('h1', { parent: H('h0'), root: H('h0') }), node('h3', { parent: H('h2'), root: H('h2') }),
    node('h0', { root: '', childPolicy: 'fail', chained: true, children: [H('h1')] }),
    node('h2', { root: '', childPolicy: 'fail', children: [H('h3')] }),
  ]));
  await run(flowScripts.releaseNodes(kh, ['h1', 'h3']));
  const here = (await claim(kh, 2)).tasks;
  await run(queueScripts.complete(kh, { finished: [{ ...here.find((t) => t.id === 'h1')!, resultJson: '"h1"' }] }));
  await run(queueScripts.completeAndClaim(kh, { finished: [{ ...here.find((t) => t.id === 'h3')!, resultJson: '' }], claim: { max: 2, leaseMs: 60_000 } }));
  // Every other final transition of a flow child leaves a notice too: reaped (by the
  // heartbeat, and by a claim short of work), completed by complete-claim, removed.
  k = queue('flows-ends');
  await run(flowScripts.createNodes(k, [
    ...['x1', 'x2', 'x3', 'x4', 'x5'].map((id) => node(id, { parent: P('p9') })),
  ]));
  await run(flowScripts.releaseNodes(k, ['x1', 'x2', 'x3', 'x4', 'x5']));
  await claim(k, 1, 0); // x1, its lease expired at once
  await run(queueScripts.reap(k, { max: 100 }));
  const [x2] = (await claim(k, 1)).tasks;
  await run(queueScripts.completeAndClaim(k, { finished: [{ ...x2!, resultJson: '2' }], claim: { max: 1, leaseMs: 0 } })); // x3, expired at once
  await run(queueScripts.remove(k, 'x5'));
  await claim(k, 5); // x4, then short of work: reaps x3

  // The legacy list bridge.
  k = queue('bridge');
  const list = `${k.base}legacy`;
  await client.lpush(list, 'x', 'y');
  const adopt = () => run(queueScripts.adoptList(k, list, { max: 10, priority: 0, maxAttempts: 3, backoffJson: '', timeoutMs: undefined }));
  await configure(k, { maxWaiting: '1000' });
  await adopt();
  await client.lpush(list, 'z');
  await configure(k, { maxWaiting: '1' });
  await adopt(); // full

  // Flow control: a rate limit and a concurrency limit hold a claim; a finish frees a slot
  // (and wakes a worker); a handler's RateLimitedError sends its task back and holds the queue.
  k = queue('flow');
  await configure(k, { concurrency: '3', 'rateLimit.max': '4', 'rateLimit.perMs': '60000' });
  await enqueue(k, [record('f1'), record('f2'), record('f3'), record('f4', { priority: -1 })]);
  const [f1, f2, f3] = (await claim(k, 5)).tasks; // concurrency: 3
  await run(queueScripts.complete(k, { finished: [{ ...f1!, resultJson: '' }] }));
  await run(queueScripts.fail(k, { attempts: [{ ...f2!, errorJson: '{}', retryDelayMs: -1 }] }));
  // Rate: the fourth start in the window, the last one allowed.
  const [f4] = (await run(queueScripts.completeAndClaim(k, { finished: [{ ...f3!, resultJson: '' }], claim: { max: 5, leaseMs: 60_000 } }))).claim.tasks;
  await enqueue(k, [record('f5')]);
  await claim(k, 5); // the window is full
  await run(queueScripts.defer(k, { scope: 'queue', delayMs: 60_000, leases: [f4!, { id: 'gone', token: '1' }] }));
  await claim(k, 5); // held

  // Groups: the rotation, per-group concurrency (a default for all), a group's own rate
  // limit, a paused group, a group held by a handler; each transition of a grouped task.
  k = queue('groups');
  await configure(k, { 'groups.concurrency': '1', 'failed.count': '1' });
  await enqueue(k, [
    record('a1', { group: 'a' }), record('a2', { group: 'a', priority: 5 }), record('b1', { group: 'b', dedupeKey: 'db' }),
    record('c1', { group: 'c' }), record('d1', { group: 'd' }), record('d2', { group: 'd' }), record('plain'),
  ]);
  const groupSet = (group: string, fields: Record<string, string>) => run(queueScripts.configureGroup(k, group, Object.entries(fields)));
  await groupSet('c', { paused: '1' });
  await groupSet('d', { 'rateLimit.max': '1', 'rateLimit.perMs': '60000' });
  const firsts = (await claim(k, 10)).tasks; // plain, a2, b1, d1; c is parked (paused); a, b, d wait for a slot
  const held = (id: string) => firsts.find((task) => task.id === id)!;
  await run(queueScripts.complete(k, { finished: [{ ...held('a2'), resultJson: '' }] })); // a rejoins
  await run(queueScripts.fail(k, { attempts: [{ ...held('b1'), errorJson: '{}', retryDelayMs: -1 }] })); // b rejoins, empty
  await claim(k, 10, 0); // a1 (a's top level emptied: the next), b dropped; a1's lease expires at once
  await run(queueScripts.reap(k, { max: 100 })); // a1 back in a's line, first
  const [again] = (await claim(k, 10)).tasks;
  await run(queueScripts.release(k, [again!]));
  const [deferred] = (await claim(k, 10)).tasks;
  await run(queueScripts.defer(k, { scope: 'group', delayMs: 60_000, leases: [deferred!] }));
  await claim(k, 10); // a is held: parked until then
  await run(queueScripts.cancel(k, 'd1')); // d's slot frees: d rejoins
  await claim(k, 10); // d's own rate limit is spent: parked until the window opens
  await run(queueScripts.remove(k, 'd2'));
  await run(queueScripts.retry(k, 'b1'));
  await enqueue(k, [record('e1', { group: 'e', delayMs: 60_000 }), record('e2', { group: 'e' })]);
  await run(queueScripts.cancel(k, 'e2'));
  // A group parked until a time now past rejoins at the next claim.
  await client.hset(k.groupState, 'e', 'p0');
  await client.zadd(k.groupsParked, 0, 'e');
  await claim(k, 10);
  await groupSet('c', { paused: '' }); // resumed
  await run(queueScripts.listGroups(k, { offset: 0, limit: 10 }));
  // A delayed task of a group joins its group's line when due.
  await client.zadd(k.delayed, 0, 'e1');
  await claim(k, 10);

  // Schedules: created, unchanged and changed; due slots fired (into the queue's line and a
  // group's), and nothing to fire; a cron schedule running low of slots (computed ahead:
  // append) and out of them (rebuilt around now); pause, resume, run now (and on a full
  // queue), removal.
  k = queue('schedules');
  const S = scheduleScripts;
  const fields = (extra: Record<string, string>) =>
    Object.entries({
      [SF.kind]: 'e', [SF.everyMs]: '1000', [SF.anchor]: '0', [SF.catchUp]: 'all', [SF.maxCatchUp]: '5', [SF.missedAfterMs]: '60000',
      [SF.endAt]: '', [SF.limit]: '', [SF.payload]: '1', [SF.priority]: '0', [SF.maxAttempts]: '', [SF.backoff]: '', [SF.timeoutMs]: '', [SF.group]: '',
      ...extra,
    });
  const upsert = (id: string, digest: string, extra: Record<string, string>, slots: string[] = []) =>
    run(S.upsertSchedule(k, { id, digest, definitionJson: '{}', fields: fields(extra), slots }));
  const later = (ms: number) => String(Date.now() + ms);
  /** Makes a schedule's next slot due now (as if its time had come). */
  const due = async (id: string) => {
    await client.hset(k.schedule(id), SF.next, '1000');
    await client.zadd(k.schedules, 1000, id);
    await client.hset(k.meta, META_FIELDS.scheduleDue, '1000');
  };
  await upsert('every', 'd1', {});
  await upsert('every', 'd1', {}); // unchanged
  await upsert('every', 'd2', { [SF.group]: 'g', [SF.limit]: '100' }); // changed
  await upsert('cron', 'c1', { [SF.kind]: 'c', [SF.everyMs]: '', [SF.anchor]: '' }, [later(60_000), later(120_000), later(180_000)]);
  await due('every');
  await due('cron');
  await run(S.fireSchedules(k)); // both fire; the cron one has few slots left: it asks for more
  await run(S.fireSchedules(k)); // nothing is due
  await claim(k, 10); // the runs
  await run(S.addScheduleSlots(k, { id: 'cron', digest: 'c1', mode: 'append', expected: (await client.lindex(k.scheduleSlots('cron'), -1))!, slots: [later(240_000), 'end'] }));
  await run(S.addScheduleSlots(k, { id: 'cron', digest: 'c0', mode: 'append', expected: '0', slots: [] })); // changed meanwhile
  await client.del(k.scheduleSlots('cron'));
  await due('cron');
  await run(S.fireSchedules(k)); // no slot ahead: it waits for slots
  await run(S.addScheduleSlots(k, { id: 'cron', digest: 'c1', mode: 'rebuild', expected: '1000', slots: ['2000', later(60_000)] }));
  await run(S.fireSchedules(k)); // the rebuilt schedule's catch-up run
  await run(S.pauseSchedule(k, { id: 'every', paused: true, slots: [] }));
  await run(S.pauseSchedule(k, { id: 'every', paused: false, digest: 'd2', slots: [] }));
  await run(S.pauseSchedule(k, { id: 'cron', paused: true, slots: [] }));
  await run(S.pauseSchedule(k, { id: 'cron', paused: false, digest: 'c0', slots: [] })); // a stale digest: refused
  await run(S.pauseSchedule(k, { id: 'cron', paused: false, digest: 'c1', slots: [later(60_000), 'end'] }));
  await run(S.pauseSchedule(k, { id: 'nope', paused: true, slots: [] }));
  await claim(k, 100); // the queue's line empty again
  await run(S.runSchedule(k, 'every')); // into its group's line
  await run(S.runSchedule(k, 'cron'));
  await run(S.runSchedule(k, 'nope'));
  await configure(k, { maxWaiting: '1' });
  await run(S.runSchedule(k, 'every')); // the queue is full
  await run(S.removeSchedule(k, 'cron'));
  await run(S.removeSchedule(k, 'cron'));
  // Progress and log lines: a held lease's are written, a lost one's refused; a log past its
  // line bound, then past its byte bound, drops its oldest lines. Removing the task deletes its log.
  k = queue('notes');
  await enqueue(k, [record('n1', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })]);
  const [n1] = (await claim(k, 1)).tasks;
  const gone = { id: 'gone', token: '1' };
  await run(queueScripts.progress(k, [{ ...n1!, json: '50' }, { ...gone, json: '1' }]));
  const lines = (...texts: string[]) => texts.map((text) => ({ ageMs: 0, text }));
  await run(queueScripts.appendLogs(k, { maxLines: 2, maxBytes: 100, batches: [{ ...n1!, dropped: 0, lines: lines('a', 'b', 'c') }, { ...gone, dropped: 0, lines: lines('x') }] }));
  await run(queueScripts.appendLogs(k, { maxLines: 2, maxBytes: 100, batches: [{ ...n1!, dropped: 1, lines: lines('x'.repeat(80)) }] }));
  await run(queueScripts.remove(k, 'n1'));
  // Trimming deletes logs with their tasks: complete-claim's completed list, claim's reaper's dead letters.
  await configure(k, keepOne);
  await enqueue(k, [record('t1'), record('t2'), record('t3'), record('t4', { maxAttempts: 1 }), record('t5', { maxAttempts: 1 })]);
  const [t1, t2, t3] = (await claim(k, 3)).tasks;
  await run(queueScripts.complete(k, { finished: [{ ...t1!, resultJson: '' }] }));
  await run(queueScripts.completeAndClaim(k, { finished: [{ ...t2!, resultJson: '' }], claim: { max: 0, leaseMs: 60_000 } }));
  await run(queueScripts.fail(k, { attempts: [{ ...t3!, errorJson: '{}', retryDelayMs: -1 }] }));
  await claim(k, 2, 0); // t4 and t5, their leases expired at once
  await claim(k, 1); // reaps them: dead letters past the failed list's bound
}

/** Every topic script down each of its paths. */
async function exerciseTopic(k: TopicKeys): Promise<void> {
  await run(topicScripts.join(k, { group: 'g', start: '0', move: false }));
  await run(topicScripts.publish(k, { maxLength: 100, maxAgeMs: 60_000, messages: ['1', '2', '3', '4'] }));
  await run(topicScripts.join(k, { group: 'g', start: '0', move: true }));
  await client.xreadgroup('GROUP', 'g', 'a', 'COUNT', 10, 'STREAMS', k.stream, '>');
  const reclaim = (consumer: string, attempts: number) =>
    run(topicScripts.reclaim(k, { group: 'g', consumer, leaseMs: 0, cursor: '0-0', max: 10, attempts, deadLettersKept: 10, pruneIdleMs: 0 }));
  const { taken } = await reclaim('b', 5);
  const [m1, m2, m3] = taken;
  await run(topicScripts.fail(k, { group: 'g', consumer: 'b', id: m1!.id, attempts: 5, errorJson: '{}', deadLettersKept: 10, now: false }));
  await run(topicScripts.fail(k, { group: 'g', consumer: 'b', id: m2!.id, attempts: 5, errorJson: '{}', deadLettersKept: 10, now: true }));
  await run(topicScripts.ack(k, { group: 'g', consumer: 'b', ids: [m3!.id, '1-1'] }));
  await run(topicScripts.extend(k, { group: 'g', consumer: 'b', ids: [taken[3]!.id, '1-1'] }));
  await reclaim('c', 1); // m1 and the fourth are past their attempts now
  await run(topicScripts.leave(k, { group: 'g', consumer: 'b' }));
  await run(topicScripts.leave(k, { group: 'g', consumer: 'c' }));
}

interface Touch {
  roles: Set<string>;
  writes: Set<string>;
}

/** Role patterns: `task:<id>` matches `task:...`. */
function roleOf(roles: readonly string[], rest: string): string | undefined {
  return roles.find((role) => (role.includes('<') ? rest.startsWith(role.slice(0, role.indexOf('<'))) : rest === role));
}

async function analyse(runs: ScriptRun[]): Promise<{ touched: Map<ScriptName, Touch>; problems: string[] }> {
  const probe = new Redis(server.url);
  const writeFlags = new Map<string, boolean>();
  const touched = new Map<ScriptName, Touch>();
  const problems: string[] = [];
  try {
    for (const run of runs) {
      const [fence, ...others] = run.keys;
      if (!fence?.endsWith(':fence')) problems.push(`${run.script}: KEYS[1] is ${fence}, not a fence`);
      if (!others.some((key) => key !== fence)) problems.push(`${run.script}: the fence travels alone`);
      const base = fence!.slice(0, -'fence'.length);
      const roles = Object.keys(base.includes(':topic:{') ? TOPIC_KEY_ROLES : QUEUE_KEY_ROLES);
      const entry = touched.get(run.script) ?? { roles: new Set(), writes: new Set() };
      touched.set(run.script, entry);
      for (const command of run.commands) {
        const [name, ...args] = command;
        const lower = name!.toLowerCase();
        if (lower === 'time') continue;
        let keys: string[];
        let write: boolean;
        if (lower === 'publish' || lower === 'spublish') {
          keys = [args[0]!];
          write = true;
        } else {
          keys = (await probe.call('COMMAND', 'GETKEYS', ...command)) as string[];
          // Container commands (XGROUP CREATE, XINFO STREAM) carry their flags per subcommand.
          const full = ['xgroup', 'xinfo'].includes(lower) ? `${lower}|${args[0]!.toLowerCase()}` : lower;
          if (!writeFlags.has(full)) {
            const [info] = (await probe.call('COMMAND', 'INFO', full)) as [unknown[]];
            writeFlags.set(full, (info[2] as string[]).includes('write'));
          }
          write = writeFlags.get(full)!;
        }
        for (const key of keys) {
          if (run.keys.includes(key) && !key.startsWith(base)) continue; // a declared outside key (the legacy list)
          if (!key.startsWith(base)) {
            problems.push(`${run.script}: ${name} ${key} is neither declared nor under the fence's base ${base}`);
            continue;
          }
          const role = roleOf(roles, key.slice(base.length));
          if (!role) {
            if (!run.keys.includes(key)) problems.push(`${run.script}: ${name} ${key} has no documented role`);
            continue;
          }
          entry.roles.add(role);
          if (write) entry.writes.add(role);
        }
      }
    }
  } finally {
    probe.disconnect();
  }
  return { touched, problems };
}

/** Per script, the roles whose row names it under "written by", and under either column. */
function documented(section: string): Map<string, Touch> {
  const byScript = new Map<string, Touch>();
  for (const line of section.split('\n').filter((row) => row.startsWith('| `'))) {
    // Cells split at pipes that are not escaped (`\|` inside a cell).
    const [, first, , , writtenBy, readBy] = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const role = /^`([^`]+)`$/.exec(first!)?.[1];
    const names = (cell: string) => cell.split(',').map((part) => /^\s*([a-z-]+)/.exec(part)?.[1]).filter((name): name is string => !!name && name in SCRIPT_KEY_COUNTS);
    for (const [cell, isWrite] of [[writtenBy!, true], [readBy!, false]] as const) {
      for (const name of names(cell)) {
        const entry = byScript.get(name) ?? { roles: new Set(), writes: new Set() };
        byScript.set(name, entry);
        entry.roles.add(role!);
        if (isWrite) entry.writes.add(role!);
      }
    }
  }
  return byScript;
}

function sectionOf(doc: string, heading: string): string {
  const start = doc.indexOf(`## ${heading}\n`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

const sorted = (set: Set<string> | undefined) => [...(set ?? [])].sort();

describe('what the scripts touch', () => {
  let observed: Awaited<ReturnType<typeof analyse>>;

  beforeAll(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
    monitor = await ScriptMonitor.start(server.url);
    await exerciseQueues((name) => new QueueKeys('layout', name));
    await exerciseTopic(new TopicKeys('layout', 't'));
    await monitor.settle(client);
    observed = await analyse(monitor.runs);
  });
  afterAll(async () => {
    monitor?.stop();
    client?.disconnect();
    await server?.stop();
  });

  it('runs every script', () => {
    expect(new Set(monitor.runs.map((run) => run.script))).toEqual(new Set(Object.keys(SCRIPT_KEY_COUNTS)));
  });

  it('declares the fence first and touches nothing outside its slot', () => {
    expect(observed.problems).toEqual([]);
  });

  it('touches exactly the roles docs/redis-layout.md says, each script', () => {
    const doc = readFileSync(new URL('../docs/redis-layout.md', import.meta.url), 'utf8');
    const queueDoc = documented(sectionOf(doc, 'Queue keys'));
    const topicDoc = documented(sectionOf(doc, 'Topic keys'));
    const mismatches: string[] = [];
    for (const [script, touch] of observed.touched) {
      const doc = (script.startsWith('topic-') ? topicDoc : queueDoc).get(script);
      if (JSON.stringify(sorted(touch.writes)) !== JSON.stringify(sorted(doc?.writes))) {
        mismatches.push(`${script} writes ${sorted(touch.writes).join(', ')}; the doc says ${sorted(doc?.writes).join(', ')}`);
      }
      if (JSON.stringify(sorted(touch.roles)) !== JSON.stringify(sorted(doc?.roles))) {
        mismatches.push(`${script} touches ${sorted(touch.roles).join(', ')}; the doc says ${sorted(doc?.roles).join(', ')}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
