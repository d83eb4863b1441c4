/**
 * The channels and topics page: its UI API (the publish action's checks, CSRF and auth
 * included, and the broadcast stream) in-process, the live channel read it uses
 * (admin.channels.active), and the page in headless Chromium:
 * topics with their groups' pending and lag as GET /v1/topics reports them, live updates
 * without a reload, live channels with their subscriber counts, and test messages
 * published from the form reaching library subscribers.
 */
import { describe, expect, it } from 'vitest';
import { Broadcast, Topic, ValidationError, type TopicMessageMeta } from '../src/index.js';
import { Admin } from '../src/admin/admin.js';
import { useBrowser } from './support/browser.js';
import { expectCleanPage, openPage, startDashboard, waitForText } from './support/dashboard.js';
import { deferred, useRedis, useScope, type TestScope } from './support/fixtures.js';
import { call, eventReader, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);
const chromium = useBrowser();
const TOKEN = 'broadcast-test-token';

function topicOf(s: TestScope, name: string): Topic {
  return s.add(new Topic(name, { connection: redis.url, prefix: s.prefix }));
}

function busOf<M = unknown>(s: TestScope, raw = false): Broadcast<M> {
  return s.add(new Broadcast<M>({ connection: redis.url, prefix: s.prefix, raw }));
}

/** Messages a channel subscriber received, awaited one at a time. */
function inbox<M>() {
  const received: M[] = [];
  let waiting: ((message: M) => void) | undefined;
  return {
    received,
    handler: (message: M) => {
      received.push(message);
      waiting?.(message);
    },
    next: () => new Promise<M>((resolve) => (waiting = resolve)),
  };
}

describe('the publish action', () => {
  it('publishes JSON or text on Errand and raw channels and on topics, answering with receivers or the id', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const { csrf } = (await call(gw, 'GET', '/ui/api/session')).body;
    const post = (body: unknown) => call(gw, 'POST', '/ui/api/publish', body, { 'x-errand-csrf': csrf });
    const json = inbox<unknown>();
    await busOf(s).subscribe('news', json.handler);
    const raw = inbox<string>();
    await busOf<string>(s, true).subscribe('legacy:chan', raw.handler);

    let arrived = json.next();
    expect((await post({ target: 'channel', name: 'news', raw: false, format: 'json', text: '{"hello": ["world", 1]}' })).body).toEqual({ target: 'channel', name: 'news', raw: false, receivers: 1 });
    expect(await arrived).toEqual({ hello: ['world', 1] });
    arrived = json.next();
    expect((await post({ target: 'channel', name: 'news', raw: false, format: 'text', text: 'just words' })).body.receivers).toBe(1);
    expect(await arrived).toBe('just words');
    const rawArrived = raw.next();
    expect((await post({ target: 'channel', name: 'legacy:chan', raw: true, format: 'text', text: '{"as": "text"}' })).body).toEqual({ target: 'channel', name: 'legacy:chan', raw: true, receivers: 1 });
    expect(await rawArrived).toBe('{"as": "text"}');
    expect((await post({ target: 'channel', name: 'nobody', raw: false, format: 'json', text: '1' })).body.receivers).toBe(0);

    const topic = topicOf(s, 'orders');
    const answer = await post({ target: 'topic', name: 'orders', format: 'json', text: '{"id": 7}' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ target: 'topic', name: 'orders', id: expect.stringMatching(/^\d+-\d+$/) });
    expect(await topic.info()).toMatchObject({ length: 1, lastId: answer.body.id });
  });

  it('refuses bad input with a message naming the fix, writing nothing', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const { csrf } = (await call(gw, 'GET', '/ui/api/session')).body;
    const post = (body: unknown) => call(gw, 'POST', '/ui/api/publish', body, { 'x-errand-csrf': csrf });
    const cases: [unknown, RegExp][] = [
      [{ target: 'topic', name: 'orders', format: 'json', text: '{oops' }, /the message is not valid JSON \(.+\): correct it, or send it as plain text/],
      [{ target: 'channel', name: 'news', raw: false, format: 'json', text: '' }, /not valid JSON/],
      [{ target: 'channel', name: 'legacy', raw: true, format: 'json', text: '1' }, /a raw channel carries plain text: send the message as plain text/],
      [{ target: 'channel', name: 'bad name!', raw: false, format: 'text', text: 'x' }, /invalid channel name/],
      [{ target: 'channel', name: 'news.*', raw: false, format: 'text', text: 'x' }, /^a pattern cannot be published to: "news\.\*"/],
      [{ target: 'topic', name: '<b>', format: 'text', text: 'x' }, /invalid topic name/],
      [{ target: 'queue', name: 'x', format: 'text', text: 'x' }, /invalid request body/],
      [{ target: 'topic', name: 'orders', format: 'yaml', text: 'x' }, /invalid request body/],
    ];
    for (const [body, message] of cases) {
      const reply = await post(body);
      expect([reply.status, reply.body.error.code]).toEqual([400, 'INVALID_ARGUMENT']);
      expect(reply.body.error.message).toMatch(message);
    }
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
  });

  it('needs the login and the CSRF token, and refuses cross-site posts before reading them', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: TOKEN });
    const login = await gw.app.inject({
      method: 'POST',
      url: '/ui/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      payload: `token=${TOKEN}`,
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const { csrf } = (await call(gw, 'GET', '/ui/api/session', undefined, { cookie })).body;
    const json = inbox<unknown>();
    await busOf(s).subscribe('news', json.handler);
    const body = (n: number) => ({ target: 'channel', name: 'news', raw: false, format: 'json', text: String(n) });

    expect((await call(gw, 'POST', '/ui/api/publish', body(1))).status).toBe(401);
    const refused: Record<string, string>[] = [
      { cookie },
      { cookie, 'x-errand-csrf': 'guess' },
      { cookie, 'x-errand-csrf': csrf, 'sec-fetch-site': 'cross-site' },
      { cookie, 'x-errand-csrf': csrf, 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of refused) {
      const reply = await call(gw, 'POST', '/ui/api/publish', body(2), headers);
      expect([reply.status, reply.body.error.code]).toEqual([403, 'FORBIDDEN']);
    }
    // Refused calls published nothing: the first message the subscriber gets is the allowed one.
    const arrived = json.next();
    const ok = await call(gw, 'POST', '/ui/api/publish', body(3), { cookie, 'x-errand-csrf': csrf, 'sec-fetch-site': 'same-origin' });
    expect(ok.body.receivers).toBe(1);
    expect(await arrived).toBe(3);
    expect(json.received).toEqual([3]);
  });
});

describe('the broadcast stream', () => {
  it('sends topics with groups, rates and dead letters, and the live channels', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const topic = topicOf(s, 'orders');
    await topic.publishMany([1, 2, 3]);
    await topic.replay('audit', 'earliest');
    await busOf(s).subscribe('news', () => {});
    await busOf(s, true).subscribe('legacy:chan', () => {});
    await busOf(s).subscribe('news.*', () => {}); // a pattern: counted apart
    // A queue's task events channel (result waiters listen there) is Errand's own: not listed.
    await s.client().subscribe(`${s.prefix}:{jobs}:events`);

    const reply = await fetch(`${gw.url}/ui/api/streams/broadcast`);
    const events = eventReader(reply.body!);
    const first = await events.next();
    await events.cancel();
    expect(first?.event).toBe('snapshot');
    const snapshot = first!.data;
    expect(snapshot.topics).toHaveLength(1);
    expect(snapshot.topics[0]).toMatchObject({
      name: 'orders',
      length: 3,
      published: 3,
      deadLetters: 0,
      groups: [{ name: 'audit', members: 0, pending: 0, lag: 3 }],
      recentDeadLetters: [],
    });
    expect(snapshot.topics[0].rate.perMinute).toHaveLength(60);
    expect(snapshot.topics[0].rate.perMinute.reduce((a: number, b: number) => a + b, 0)).toBe(3);
    expect(snapshot.channels).toEqual([
      { name: 'news', raw: false, subscribers: 1 },
      { name: 'legacy:chan', raw: true, subscribers: 1 },
    ]);
    expect(snapshot).toMatchObject({ channelsTotal: 2, patterns: 1 });
  });
});

describe('admin.channels.active', () => {
  it('lists Errand channels first, then raw ones, up to a limit, with the total', async () => {
    const s = scope();
    const admin = s.add(new Admin({ connection: redis.url, prefix: s.prefix }));
    expect(await admin.channels.active()).toEqual({ channels: [], total: 0, patterns: 0, partial: false });
    await busOf(s, true).subscribe('a-raw', () => {});
    await busOf(s).subscribe('zeta', () => {});
    const listener = s.client();
    await listener.subscribe(`${s.prefix}:ch:alpha`, `${s.prefix}:ch:alpha`); // one connection, once
    await s.client().subscribe(`${s.prefix}:ch:alpha`);
    // A queue's own channels (outcomes, and the progress a task watch listens to) are not listed.
    const queue = s.queue('watched');
    const watch = queue.watchTask((await queue.enqueue(1)).id);
    await watch.next();
    expect(await admin.channels.active()).toEqual({
      channels: [
        { name: 'alpha', raw: false, subscribers: 2 },
        { name: 'zeta', raw: false, subscribers: 1 },
        { name: 'a-raw', raw: true, subscribers: 1 },
      ],
      total: 3,
      patterns: 0,
      partial: false,
    });
    expect(await admin.channels.active({ limit: 1 })).toEqual({ channels: [{ name: 'alpha', raw: false, subscribers: 2 }], total: 3, patterns: 0, partial: false });
    for (const limit of [0, 10_001, 1.5]) await expect(admin.channels.active({ limit })).rejects.toThrow(ValidationError);
    await watch.return(undefined);
  });
});

describe('the channels and topics page', () => {
  it('lists a topic with its groups, pending and lag as GET /v1/topics says, and updates live', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const topic = topicOf(s, 'orders');
    await topic.publishMany(Array.from({ length: 10 }, (_, i) => ({ order: i })));
    // billing: one member holding two messages; audit: a group nobody reads yet.
    const hold = deferred();
    const started: TopicMessageMeta[] = [];
    const twoStarted = deferred();
    const billing = topic.subscribe(
      'billing',
      async (_message, meta) => {
        started.push(meta);
        if (started.length === 2) twoStarted.resolve();
        await hold.promise;
      },
      { from: 'earliest', concurrency: 2 },
    );
    billing.on('error', (error) => s.errors.push(error));
    s.add({ close: () => billing.close({ timeoutMs: 2_000 }) });
    s.add({ close: async () => hold.resolve() });
    await twoStarted.promise;
    await topic.replay('audit', 'earliest');

    const api = (await (await fetch(`${gw.url}/v1/topics`)).json()) as { topics: { name: string; length: number; groups: { name: string; members: number; pending: number; lag: number }[] }[] };
    expect(api.topics).toHaveLength(1);
    expect(api.topics[0]!.groups.map(({ name, members, pending, lag }) => ({ name, members, pending, lag }))).toEqual([
      { name: 'audit', members: 0, pending: 0, lag: 10 },
      { name: 'billing', members: 1, pending: 2, lag: 8 },
    ]);

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/`);
    await page.click('a[data-nav="/broadcast"]');
    await page.waitForSelector('tr[data-topic="orders"]');
    expect(page.url()).toBe(`${gw.url}/broadcast`);
    await page.evaluate('window.__samePage = true');
    expect(await page.textContent('tr[data-topic="orders"] td[data-col="length"]')).toBe(String(api.topics[0]!.length));
    for (const group of api.topics[0]!.groups) {
      for (const column of ['members', 'pending', 'lag'] as const) {
        expect([group.name, column, await page.textContent(`tr[data-group="${group.name}"][data-of-topic="orders"] td[data-col="${column}"]`)]).toEqual([group.name, column, String(group[column])]);
      }
    }
    expect(await page.textContent('tr[data-topic="orders"] td[data-col="last-hour"]')).toBe('10');
    expect(await page.getAttribute('tr[data-topic="orders"] svg.sparkline', 'aria-label')).toBe('10 published in the last 60 minutes, at most 10 in one minute');

    // Live: more messages, and billing's two acknowledged.
    await topic.publishMany([10, 11, 12, 13, 14]);
    await waitForText(watched, 'tr[data-topic="orders"] td[data-col="length"]', '15');
    await waitForText(watched, 'tr[data-group="audit"] td[data-col="lag"]', '15');
    await waitForText(watched, 'tr[data-topic="orders"] td[data-col="last-hour"]', '15');
    hold.resolve();
    await waitForText(watched, 'tr[data-group="billing"] td[data-col="lag"]', '0');
    await waitForText(watched, 'tr[data-group="billing"] td[data-col="pending"]', '0');
    // A topic that appears meanwhile shows up too.
    await topicOf(s, 'invoices').publish({ n: 1 });
    await page.waitForSelector('tr[data-topic="invoices"]');
    expect(await page.evaluate('window.__samePage')).toBe(true); // no reload
    expect(await page.getAttribute('.live', 'data-live')).toBe('live');
    await expectCleanPage(watched);
  });

  it('lists live channels with their subscribers, and publishes test messages that reach library subscribers', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const json = inbox<unknown>();
    await busOf(s).subscribe('news', json.handler);
    await busOf(s).subscribe('news', () => {}); // a second connection
    const raw = inbox<string>();
    await busOf<string>(s, true).subscribe('legacy:pubsub', raw.handler);
    const topic = topicOf(s, 'orders');
    const delivered = deferred<[unknown, string]>();
    const member = topic.subscribe('billing', (message, meta) => delivered.resolve([message, meta.id]));
    member.on('error', (error) => s.errors.push(error));
    s.add({ close: () => member.close({ timeoutMs: 2_000 }) });
    await member.ready();

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/broadcast`);
    await waitForText(watched, 'tr[data-channel="news"][data-raw="false"] td[data-col="subscribers"]', '2');
    expect(await page.textContent('tr[data-channel="legacy:pubsub"][data-raw="true"] td[data-col="subscribers"]')).toBe('1');

    // A JSON channel.
    await page.fill('input[name=name]', 'news');
    await page.fill('textarea[name=message]', '{"hello": "from the dashboard"}');
    await page.click('button[data-action="publish"]');
    expect(await page.textContent('dialog.confirm h2')).toBe('Publish to channel news?');
    const arrived = json.next();
    await page.click('dialog.confirm button[data-confirm]');
    expect(await arrived).toEqual({ hello: 'from the dashboard' });
    await waitForText(watched, '[data-publish-result]', 'Published on channel news: 2 subscriber connections received it.');

    // A raw channel: the text as it is.
    await page.fill('input[name=name]', 'legacy:pubsub');
    await page.check('input[name=raw]');
    expect(await page.isChecked('input[name=format][value=text]')).toBe(true);
    expect(await page.isDisabled('input[name=format][value=json]')).toBe(true);
    await page.fill('textarea[name=message]', '42');
    await page.click('button[data-action="publish"]');
    expect(await page.textContent('dialog.confirm h2')).toBe('Publish to raw channel legacy:pubsub?');
    const rawArrived = raw.next();
    await page.click('dialog.confirm button[data-confirm]');
    expect(await rawArrived).toBe('42');
    await waitForText(watched, '[data-publish-result]', 'Published on raw channel legacy:pubsub: 1 subscriber connection received it.');

    // A topic.
    await page.check('input[name=target][value=topic]');
    expect(await page.isDisabled('input[name=raw]')).toBe(true);
    await page.check('input[name=format][value=json]');
    await page.fill('input[name=name]', 'orders');
    await page.fill('textarea[name=message]', '{"order": 1}');
    await page.click('button[data-action="publish"]');
    await page.click('dialog.confirm button[data-confirm]');
    const [message, id] = await delivered.promise;
    expect(message).toEqual({ order: 1 });
    await waitForText(watched, '[data-publish-result]', `Published on topic orders as message ${id}.`);
    await waitForText(watched, 'tr[data-topic="orders"] td[data-col="published"]', '1');

    // JSON that does not parse is caught before anything is asked or sent.
    await page.fill('textarea[name=message]', '{"order": ');
    await page.click('button[data-action="publish"]');
    await page.waitForSelector('[data-publish-result].publish-error');
    expect(await page.textContent('[data-publish-result]')).toMatch(/^The message is not valid JSON \(.+\): correct it, or send it as plain text\.$/);
    expect(await page.$('dialog.confirm')).toBeNull();
    // An error from the gateway is said too.
    await page.fill('input[name=name]', 'no such name!');
    await page.fill('textarea[name=message]', '1');
    await page.click('button[data-action="publish"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '[data-publish-result]', 'Publish failed: invalid request body: name: invalid topic name: use 1-128 characters from A-Z a-z 0-9 . _ - (INVALID_ARGUMENT)');
    expect((await topic.info()).length).toBe(1);
    await expectCleanPage(watched);
  });
});
