/**
 * Demo (/demo): the classic two links Errand grew from (producer-consumer and
 * publish-subscribe), which lead back here, with the demo queue's counts kept live.
 */
import { API_BASE, type QueueSnapshot } from '../../shared.js';
import { openStream } from '../api.js';
import { fill, h } from '../dom.js';
import { count } from '../format.js';
import { card, link, queueHref, type View } from '../ui.js';

export const demoView: View = {
  pattern: /^\/demo$/,
  nav: { label: 'Demo', href: '/demo', enabled: (session) => session.demo !== null },
  title: () => 'Demo',
  render(ctx) {
    const demo = ctx.api.session.demo;
    if (!demo) {
      fill(ctx.root, h('h1', null, 'Demo'), h('p', { class: 'empty' }, 'This gateway does not serve the demo (npm start does).'));
      return;
    }
    const cards = h('section', { class: 'cards' });
    fill(
      ctx.root,
      h('h1', null, 'Redis Message Queue'),
      h(
        'section',
        { class: 'panel demo-links' },
        // Plain links, as in the classic demo: each does its work and leads back here.
        h('a', { href: '/demo/prodcons', class: 'demo-link', 'data-demo': 'prodcons' }, `producer-consumer: enqueue a random number on queue "${demo.queue}"`),
        h('a', { href: '/demo/pubsub', class: 'demo-link', 'data-demo': 'pubsub' }, `publish-subscribe: publish a random number on channel "${demo.channel}"`),
        h('p', { class: 'hint' }, 'The demo worker and subscriber log what they receive ("Task get <n>") in the terminal that runs npm start.'),
      ),
      h('section', { class: 'panel' }, h('h2', null, 'Queue ', link(queueHref(demo.queue), demo.queue)), cards),
      h('p', null, link('/openapi.json', 'HTTP API (OpenAPI)'), ' · the same calls with curl: docs/http-api.md'),
    );
    ctx.onLeave(
      openStream(`${API_BASE}/streams/queues/${encodeURIComponent(demo.queue)}`, {
        live: ctx.setLive,
        events: {
          snapshot: (snapshot: QueueSnapshot) =>
            fill(
              cards,
              card('waiting', count(snapshot.counts.waiting), { key: 'waiting' }),
              card('active', count(snapshot.counts.active), { key: 'active' }),
              card('completed', count(snapshot.counts.completed), { key: 'completed' }),
              card('enqueued, all time', count(snapshot.lifetime.enqueued), { key: 'enqueued' }),
            ),
        },
      }),
    );
  },
};
