/**
 * The settings panel of the queue page: the queue's settings as kept in Redis (capacity,
 * rate limit, concurrency, the limits of every group, retention), and a form that changes
 * them. What the form cannot read (not a whole number, half a rate limit) is said beside
 * the field before anything is sent; what the gateway refuses (a value out of range) comes
 * back by field and is said there too. Only the fields changed are sent, so a change made
 * meanwhile elsewhere to another field stays. Saving needs the admin scope.
 */
import type { SettingsView } from '../../shared.js';
import { ApiError, queuePath } from '../api.js';
import { fill, h } from '../dom.js';
import { count, duration } from '../format.js';
import { confirmDialog, errorText, type ViewContext } from '../ui.js';

/** One input: its path in the settings, its label, and whether empty means "no limit". */
interface FieldSpec {
  path: string;
  label: string;
  hint: string;
  nullable: boolean;
}

const FIELDS: readonly FieldSpec[] = [
  { path: 'maxWaiting', label: 'Max waiting', hint: 'enqueues are refused (429) while this many tasks wait', nullable: true },
  { path: 'concurrency', label: 'Concurrency', hint: 'tasks active at once, across all workers', nullable: true },
  { path: 'rateLimit.max', label: 'Rate limit: tasks', hint: 'started at most in any window…', nullable: true },
  { path: 'rateLimit.perMs', label: 'Rate limit: window (ms)', hint: '…this long, across all workers', nullable: true },
  { path: 'groups.concurrency', label: 'Each group: concurrency', hint: 'tasks of one group active at once', nullable: true },
  { path: 'groups.rateLimit.max', label: 'Each group: rate, tasks', hint: 'started per window by one group…', nullable: true },
  { path: 'groups.rateLimit.perMs', label: 'Each group: rate window (ms)', hint: '…this long', nullable: true },
  { path: 'retention.completed.count', label: 'Keep completed', hint: 'completed tasks kept readable', nullable: false },
  { path: 'retention.completed.maxAgeMs', label: 'Completed max age (ms)', hint: 'and for how long', nullable: false },
  { path: 'retention.failed.count', label: 'Keep failed', hint: 'failed and cancelled tasks kept', nullable: false },
  { path: 'retention.failed.maxAgeMs', label: 'Failed max age (ms)', hint: 'and for how long', nullable: false },
  { path: 'partitions', label: 'Partitions', hint: 'hash slots the queue spreads over (budgets above are shared out)', nullable: false },
];

/** The value at a dotted path of the settings (null for a limit that is off). */
function valueAt(settings: SettingsView, path: string): number | null {
  let value: unknown = settings;
  for (const key of path.split('.')) value = value === null || value === undefined ? null : (value as Record<string, unknown>)[key];
  return typeof value === 'number' ? value : null;
}

function rateText(rate: { max: number; perMs: number } | null): string {
  return rate ? `${count(rate.max)} per ${duration(rate.perMs)}` : 'none';
}

/** One line saying what is in force. */
function summary(settings: SettingsView): string {
  const limit = (n: number | null) => (n === null ? 'none' : count(n));
  return (
    `max waiting ${limit(settings.maxWaiting)} · concurrency ${limit(settings.concurrency)} · rate limit ${rateText(settings.rateLimit)} · ` +
    `each group: concurrency ${limit(settings.groups.concurrency)}, rate ${rateText(settings.groups.rateLimit)}` +
    (settings.partitions > 1 ? ` · ${count(settings.partitions)} partitions` : '')
  );
}

type Patch = Record<string, unknown>;

function put(patch: Patch, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = patch;
  for (const key of keys.slice(0, -1)) at = (at[key] ??= {}) as Patch;
  at[keys.at(-1)!] = value;
}

export function settingsPanel(ctx: ViewContext, queue: string): HTMLElement {
  let current: SettingsView | undefined;
  const inputs = new Map<string, HTMLInputElement>();
  const errors = new Map<string, HTMLElement>();
  const summaryLine = h('p', { class: 'hint', 'data-settings-summary': true }, 'Loading…');
  const formError = h('p', { class: 'field-error', 'data-error-for': '(settings)', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'secondary', 'data-action': 'save-settings' }, 'Save settings…');

  const rows = FIELDS.map((spec) => {
    const input = h('input', {
      type: 'text',
      inputmode: 'numeric',
      name: spec.path,
      autocomplete: 'off',
      placeholder: spec.nullable ? 'no limit' : '',
      'aria-label': spec.label,
    });
    const error = h('span', { class: 'field-error', 'data-error-for': spec.path, role: 'alert' });
    inputs.set(spec.path, input);
    errors.set(spec.path, error);
    return h('label', { class: 'field' }, h('span', null, spec.label), input, h('span', { class: 'hint' }, spec.hint), error);
  });

  const form = h('form', { class: 'settings-form', 'data-settings-form': true, novalidate: true }, h('div', { class: 'settings-grid' }, rows), formError, h('div', { class: 'form-buttons' }, save));

  const show = (settings: SettingsView) => {
    current = settings;
    fill(summaryLine, `${summary(settings)} (version ${settings.version})`);
    for (const [path, input] of inputs) {
      const value = valueAt(settings, path);
      input.value = value === null ? '' : String(value);
    }
  };

  const clearErrors = () => {
    for (const error of errors.values()) fill(error);
    fill(formError);
  };

  const sayErrors = (fields: Readonly<Record<string, string>>, fallback: string) => {
    let shown = false;
    for (const [path, message] of Object.entries(fields)) {
      const target = errors.get(path) ?? errors.get(`${path}.max`);
      if (target) {
        fill(target, message);
        shown = true;
      }
    }
    if (!shown) fill(formError, fallback);
  };

  /** The changed fields as a patch, or what the form cannot read, by field. */
  const read = (): { patch: Patch; problems: Record<string, string> } => {
    const patch: Patch = {};
    const problems: Record<string, string> = {};
    const values = new Map<string, number | null>();
    for (const spec of FIELDS) {
      const text = inputs.get(spec.path)!.value.trim().replaceAll(/[,_ ]/g, '');
      if (text === '' && spec.nullable) values.set(spec.path, null);
      else if (/^\d+$/.test(text)) values.set(spec.path, Number(text));
      else problems[spec.path] = text === '' ? 'give a whole number' : `"${text}" is not a whole number${spec.nullable ? ' (leave it empty for no limit)' : ''}`;
    }
    for (const rate of ['rateLimit', 'groups.rateLimit']) {
      const max = values.get(`${rate}.max`);
      const perMs = values.get(`${rate}.perMs`);
      if (max === undefined || perMs === undefined) continue;
      if ((max === null) !== (perMs === null)) {
        problems[max === null ? `${rate}.max` : `${rate}.perMs`] = 'a rate limit needs both the tasks and the window (leave both empty for none)';
        continue;
      }
      const before = current ? JSON.stringify(valueAt(current, `${rate}.max`)) + JSON.stringify(valueAt(current, `${rate}.perMs`)) : '';
      if (before !== JSON.stringify(max) + JSON.stringify(perMs)) put(patch, rate, max === null ? null : { max, perMs });
    }
    for (const spec of FIELDS) {
      if (spec.path.includes('rateLimit.')) continue;
      const value = values.get(spec.path);
      if (value !== undefined && (!current || valueAt(current, spec.path) !== value)) put(patch, spec.path, value);
    }
    return { patch, problems };
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    const { patch, problems } = read();
    if (Object.keys(problems).length) return sayErrors(problems, 'Some values cannot be read.');
    if (!Object.keys(patch).length) return void fill(formError, 'Nothing changed.');
    void (async () => {
      const question = `Change the settings of ${queue}?`;
      const detail = 'Kept in Redis: every worker applies them at its next claim, with no restart.';
      if (!(await confirmDialog(question, detail, 'Save'))) return;
      save.disabled = true;
      try {
        const settings = await ctx.api.post<SettingsView>(`${queuePath(queue)}/settings`, patch);
        show(settings);
        ctx.flash(`Settings of ${queue} saved (version ${settings.version}).`, 'ok');
      } catch (error) {
        if (error instanceof ApiError && error.fields) sayErrors(error.fields, errorText(error));
        else fill(formError, `Saving failed: ${errorText(error)}`);
      } finally {
        save.disabled = false;
      }
    })();
  });

  void ctx.api.get<SettingsView>(`${queuePath(queue)}/settings`).then(show, (error) => fill(summaryLine, `Settings could not be read: ${errorText(error)}`));

  return h(
    'section',
    { class: 'panel', 'data-settings': true },
    h('details', null, h('summary', null, h('h2', null, 'Settings')), form),
    summaryLine,
  );
}
