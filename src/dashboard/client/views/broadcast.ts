/**
 * Channels & topics (/broadcast): every durable topic with its length, messages published
 * per minute over the last hour, its subscriber groups (members, pending, lag) and its
 * newest dead letters; the live channels that have subscribers now, with their subscriber
 * counts; all kept live by the broadcast stream. Below them, the form that publishes a
 * test message (publish-form.ts).
 */
import { API_BASE, DEAD_LETTERS_SHOWN, type BroadcastSnapshot, type ChannelRow, type ErrorBody, type TopicGroupRow, type TopicRow } from '../../shared.js';
import { openStream } from '../api.js';
import { fill, h } from '../dom.js';
import { count, time } from '../format.js';
import { sparkline } from '../sparkline.js';
import { card, problemBanner, type View } from '../ui.js';
import { publishForm } from './publish-form.js';

/** A lag at or above this share of the topic's length: the group is about to lose messages to retention. */
const LAG_WARNING = 0.9;

function lagCell(group: TopicGroupRow, length: number): HTMLTableCellElement {
  if (group.lag === null) return h('td', { class: 'num', 'data-col': 'lag', title: 'Redis cannot tell this group’s lag now' }, '—');
  const behind = length > 0 && group.lag >= length * LAG_WARNING;
  return h(
    'td',
    { class: `num${behind ? ' bad' : ''}`, 'data-col': 'lag', title: behind ? 'close to the topic’s length: unread messages may be trimmed before this group reads them' : undefined },
    count(group.lag),
  );
}

function groupsTable(topic: TopicRow): HTMLElement {
  if (!topic.groups.length) return h('p', { class: 'empty' }, 'No subscriber group yet: messages wait for the first group that starts early enough.');
  return h(
    'table',
    { class: 'grid-table groups' },
    h('thead', null, h('tr', null, h('th', null, 'group'), h('th', { class: 'num' }, 'members'), h('th', { class: 'num' }, 'pending'), h('th', { class: 'num' }, 'lag'), h('th', null, 'last delivered'))),
    h(
      'tbody',
      null,
      topic.groups.map((group) =>
        h(
          'tr',
          { 'data-group': group.name, 'data-of-topic': topic.name },
          h('td', { class: 'name', 'data-field': 'group-name' }, group.name),
          h('td', { class: 'num', 'data-col': 'members' }, count(group.members)),
          h('td', { class: 'num', 'data-col': 'pending' }, count(group.pending)),
          lagCell(group, topic.length),
          h('td', { class: 'time', 'data-col': 'last-delivered' }, h('code', null, group.lastDeliveredId)),
        ),
      ),
    ),
  );
}

function topicRows(topic: TopicRow): HTMLTableRowElement[] {
  const { firstMinute, perMinute } = topic.rate;
  const lastHour = perMinute.reduce((sum, n) => sum + n, 0);
  return [
    h(
      'tr',
      { class: 'topic-row', 'data-topic': topic.name },
      h('td', { class: 'name', 'data-field': 'topic-name' }, topic.name),
      h('td', { class: 'num', 'data-col': 'length' }, count(topic.length)),
      h('td', { class: 'num', 'data-col': 'published' }, count(topic.published)),
      h('td', { class: 'num', 'data-col': 'last-hour' }, count(lastHour)),
      h('td', { class: 'num', 'data-col': 'this-minute' }, count(perMinute.at(-1) ?? 0)),
      h('td', { 'data-col': 'rate' }, sparkline(firstMinute, perMinute, 'published')),
      h('td', { class: `num${topic.deadLetters > 0 ? ' bad' : ''}`, 'data-col': 'dead-letters' }, count(topic.deadLetters)),
    ),
    h('tr', { class: 'groups-row', 'data-groups-of': topic.name }, h('td', { colspan: 7 }, groupsTable(topic))),
  ];
}

function topicsPanel(topics: readonly TopicRow[]): HTMLElement {
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, 'Topics'),
    topics.length
      ? h(
          'table',
          { class: 'grid-table topics' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'topic'),
              h('th', { class: 'num' }, 'retained'),
              h('th', { class: 'num' }, 'published'),
              h('th', { class: 'num' }, 'last hour'),
              h('th', { class: 'num' }, 'this minute'),
              h('th', null, 'published per minute, last hour'),
              h('th', { class: 'num' }, 'dead letters'),
            ),
          ),
          h('tbody', null, topics.map(topicRows)),
        )
      : h('p', { class: 'empty' }, 'No topics yet. A topic appears once a message is published on it or a group subscribes.'),
    h('p', { class: 'hint' }, 'Pending: handed to a member, not yet acknowledged. Lag: retained messages the group has not read yet. Rates count what Errand published (library and gateway).'),
  );
}

function deadLettersPanel(topics: readonly TopicRow[]): HTMLElement | null {
  const withLetters = topics.filter((topic) => topic.recentDeadLetters.length > 0);
  if (!withLetters.length) return null;
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, 'Newest dead letters'),
    h(
      'table',
      { class: 'grid-table dead-letters' },
      h('thead', null, h('tr', null, ['topic', 'message id', 'group', 'attempts', 'failed', 'last error', 'message'].map((label) => h('th', null, label)))),
      h(
        'tbody',
        null,
        withLetters.flatMap((topic) =>
          topic.recentDeadLetters.map((letter) =>
            h(
              'tr',
              { 'data-dead-letter': letter.id, 'data-of-topic': topic.name },
              h('td', { class: 'name' }, topic.name),
              h('td', { class: 'id' }, h('code', null, letter.id)),
              h('td', { 'data-field': 'dl-group' }, letter.group),
              h('td', { class: 'num' }, count(letter.attempts)),
              h('td', { class: 'time' }, time(letter.failedAt)),
              h('td', { class: 'error', 'data-field': 'dl-error' }, letter.error),
              h('td', { class: 'payload' }, h('code', { 'data-field': 'dl-message' }, letter.message)),
            ),
          ),
        ),
      ),
    ),
    h('p', { class: 'hint' }, `At most the newest ${DEAD_LETTERS_SHOWN} per topic; all of them: GET /v1/topics/<topic>/dead-letters.`),
  );
}

function channelsPanel(snapshot: BroadcastSnapshot): HTMLElement {
  const { channels, channelsTotal, patterns, partial } = snapshot;
  const table = channels.length
    ? h(
        'table',
        { class: 'grid-table channels' },
        h('thead', null, h('tr', null, h('th', null, 'channel'), h('th', null, 'kind'), h('th', { class: 'num' }, 'subscribers'))),
        h(
          'tbody',
          null,
          channels.map((channel: ChannelRow) =>
            h(
              'tr',
              { 'data-channel': channel.name, 'data-raw': String(channel.raw) },
              h('td', { class: 'name' }, h('code', { 'data-field': 'channel-name' }, channel.name)),
              h('td', null, channel.raw ? 'raw (any Redis client)' : 'Errand (JSON)'),
              h('td', { class: 'num', 'data-col': 'subscribers' }, count(channel.subscribers)),
            ),
          ),
        ),
      )
    : h('p', { class: 'empty' }, 'No channel has a subscriber now.');
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, 'Live channels with subscribers now'),
    table,
    channelsTotal > channels.length ? h('p', { class: 'hint' }, `Showing ${count(channels.length)} of ${count(channelsTotal)} channels.`) : null,
    partial ? h('p', { class: 'hint', 'data-partial': 'true' }, 'A node of the Redis Cluster did not answer: its subscribers are not counted.') : null,
    h(
      'p',
      { class: 'hint', 'data-patterns': patterns },
      `Subscriber connections per channel, as Redis reports them; ${count(patterns)} pattern subscription${patterns === 1 ? '' : 's'} (counted apart, not per channel). ` +
        'Redis keeps no count of messages published on a channel, so no rate is shown: for one, publish on a topic.',
    ),
  );
}

function render(snapshot: BroadcastSnapshot): HTMLElement[] {
  const groups = snapshot.topics.reduce((sum, topic) => sum + topic.groups.length, 0);
  const pending = snapshot.topics.reduce((sum, topic) => sum + topic.groups.reduce((n, group) => n + group.pending, 0), 0);
  const lastHour = snapshot.topics.reduce((sum, topic) => sum + topic.rate.perMinute.reduce((n, m) => n + m, 0), 0);
  const dead = snapshot.topics.reduce((sum, topic) => sum + topic.deadLetters, 0);
  const subscribers = snapshot.channels.reduce((sum, channel) => sum + channel.subscribers, 0);
  const cards = h(
    'section',
    { class: 'cards', 'data-broadcast-cards': true },
    card('topics', count(snapshot.topics.length), { key: 'topics' }),
    card('subscriber groups', count(groups), { key: 'groups' }),
    card('pending', count(pending), { key: 'pending' }),
    card('published, last hour', count(lastHour), { key: 'last-hour' }),
    card('dead letters', count(dead), { key: 'dead-letters', tone: dead > 0 ? 'bad' : undefined }),
    card('live channels', count(snapshot.channelsTotal), { key: 'channels', hint: `${count(subscribers)} subscriber${subscribers === 1 ? '' : 's'}` }),
  );
  return [cards, topicsPanel(snapshot.topics), deadLettersPanel(snapshot.topics), channelsPanel(snapshot)].filter((part): part is HTMLElement => part !== null);
}

export const broadcastView: View = {
  pattern: /^\/broadcast$/,
  nav: { label: 'Channels & topics', href: '/broadcast' },
  title: () => 'Channels & topics',
  render(ctx) {
    const problem = h('div', { class: 'problem' });
    const body = h('div', { 'data-view': 'broadcast' }, h('p', { class: 'loading' }, 'Loading…'));
    fill(ctx.root, h('h1', null, 'Channels & topics'), problem, body, publishForm(ctx));
    ctx.onLeave(
      openStream(`${API_BASE}/streams/broadcast`, {
        live: ctx.setLive,
        events: {
          snapshot: (snapshot: BroadcastSnapshot) => {
            fill(problem);
            fill(body, render(snapshot));
          },
          problem: (error: ErrorBody) => fill(problem, problemBanner(error.error.message)),
        },
      }),
    );
  },
};
