/**
 * The "publish a test message" form of the channels and topics page: a channel (Errand
 * JSON or raw) or a topic, a name, and the message as JSON or plain text. It asks for
 * confirmation, posts to /ui/api/publish (with the CSRF token, like every action), and
 * says what happened: how many subscriber connections got it, or the topic message's id.
 */
import { API_BASE, type PublishAnswer, type PublishRequest } from '../../shared.js';
import { fill, h } from '../dom.js';
import { count } from '../format.js';
import { confirmDialog, errorText, type ViewContext } from '../ui.js';

function outcome(answer: PublishAnswer): string {
  if (answer.target === 'topic') return `Published on topic ${answer.name} as message ${answer.id}.`;
  const kind = answer.raw ? 'raw channel' : 'channel';
  return `Published on ${kind} ${answer.name}: ${count(answer.receivers)} subscriber connection${answer.receivers === 1 ? '' : 's'} received it.`;
}

function radio(name: string, value: string, label: string, checked: boolean): HTMLLabelElement {
  return h('label', { class: 'choice' }, h('input', { type: 'radio', name, value, checked }), ` ${label}`);
}

export function publishForm(ctx: ViewContext): HTMLElement {
  const nameInput = h('input', { type: 'text', name: 'name', required: true, maxlength: 1024, autocomplete: 'off', placeholder: 'news', 'aria-label': 'channel or topic name' });
  const rawBox = h('input', { type: 'checkbox', name: 'raw' });
  const rawLabel = h('label', { class: 'choice' }, rawBox, ' raw Redis channel: the exact name, a plain-text message (for redis-cli and other clients)');
  const message = h('textarea', { name: 'message', rows: 4, spellcheck: 'false', placeholder: '{"hello": "world"}', 'aria-label': 'message' });
  const submit = h('button', { type: 'submit', class: 'secondary', 'data-action': 'publish' }, 'Publish…');
  const result = h('p', { class: 'publish-result', 'data-publish-result': true, 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'publish-form' },
    h('fieldset', null, h('legend', null, 'To'), radio('target', 'channel', 'a live channel', true), radio('target', 'topic', 'a topic', false)),
    h('label', { class: 'field' }, 'Name', nameInput),
    rawLabel,
    h('fieldset', { 'data-format': true }, h('legend', null, 'Message as'), radio('format', 'json', 'JSON', true), radio('format', 'text', 'plain text', false)),
    h('label', { class: 'field' }, 'Message', message),
    h('div', { class: 'form-buttons' }, submit),
  );

  const value = (name: string) => (form.querySelector(`input[name="${name}"]:checked`) as HTMLInputElement | null)?.value;
  const jsonRadio = form.querySelector('input[name="format"][value="json"]') as HTMLInputElement;
  const textRadio = form.querySelector('input[name="format"][value="text"]') as HTMLInputElement;
  // A raw channel carries plain text only; only channels can be raw.
  const sync = () => {
    const topic = value('target') === 'topic';
    rawBox.disabled = topic;
    if (topic) rawBox.checked = false;
    rawLabel.classList.toggle('disabled', topic);
    jsonRadio.disabled = rawBox.checked;
    if (rawBox.checked) textRadio.checked = true;
    nameInput.placeholder = topic ? 'orders' : rawBox.checked ? 'task:pubsub:channel' : 'news';
  };
  form.addEventListener('change', sync);
  sync();

  const say = (text: string, kind: 'ok' | 'error') => {
    fill(result, text);
    result.className = `publish-result publish-${kind}`;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = nameInput.value;
    const format = value('format') === 'text' ? 'text' : 'json';
    const text = message.value;
    if (format === 'json') {
      try {
        JSON.parse(text);
      } catch (error) {
        say(`The message is not valid JSON (${(error as Error).message}): correct it, or send it as plain text.`, 'error');
        return;
      }
    }
    const request: PublishRequest =
      value('target') === 'topic' ? { target: 'topic', name, format, text } : { target: 'channel', name, raw: rawBox.checked, format, text };
    const question = request.target === 'topic' ? `Publish to topic ${name}?` : `Publish to ${request.raw ? 'raw channel' : 'channel'} ${name}?`;
    const detail =
      request.target === 'topic'
        ? 'The message is stored in the topic and handed to every subscriber group, as any published message.'
        : 'Whoever is subscribed now gets the message, as any published message; nothing is stored.';
    void (async () => {
      if (!(await confirmDialog(question, detail, 'Publish'))) return;
      submit.disabled = true;
      try {
        const answer = await ctx.api.post<PublishAnswer>(`${API_BASE}/publish`, request);
        say(outcome(answer), 'ok');
        ctx.flash(outcome(answer), 'ok');
      } catch (error) {
        say(`Publish failed: ${errorText(error)}`, 'error');
        ctx.flash(`Publish failed: ${errorText(error)}`, 'error');
      } finally {
        submit.disabled = false;
      }
    })();
  });

  return h(
    'section',
    { class: 'panel', 'data-publish': true },
    h('h2', null, 'Publish a test message'),
    form,
    result,
    h('p', { class: 'hint' }, 'A JSON message goes to an Errand channel or topic as the value it spells; plain text goes as a string.'),
  );
}
