/** The editor screen: a new key, or the open one, from text typed in or a file uploaded. */
import type { LucidValue } from '../../src/client/index.js';
import type { App, EditorMode } from './app.js';
import { confirmDialog, h } from './dom.js';
import { viewOf } from './format.js';
import { save, TEXT_TYPE } from './editor-save.js';
import { newDetailNotice } from './messages.js';

/** Offered in the content type field. */
const CONTENT_TYPES: readonly string[] = [
  'text/plain;charset=utf-8',
  'application/json',
  'text/markdown',
  'text/html',
  'text/csv',
  'application/xml',
  'image/png',
  'application/octet-stream',
];

/** Opens the editor: for a new key, or (isNew false) for the value shown. */
export function showEditor(app: App, { isNew, mode }: { isNew: boolean; mode: EditorMode }): void {
  const { state, ui } = app;
  const existing = isNew ? undefined : state.current;
  if (isNew) app.screens.closeValue();
  state.editor = { isNew, key: existing?.key, etag: existing?.value.etag, mode, saving: false, dirty: false };
  const title = isNew ? 'New key' : `Edit ${existing!.key}`;
  ui.detailTitle.textContent = title;
  const notice = newDetailNotice(state);
  const fields = valueFields(existing?.value, mode);
  const showMode = (next: EditorMode) => {
    state.editor!.mode = next;
    fields.text.hidden = next !== 'text';
    fields.file.hidden = next !== 'file';
  };
  const saveLabel = isNew ? 'Create' : 'Save';
  const saveButton = h('button', { type: 'submit', class: 'primary', 'aria-keyshortcuts': 'Control+Enter' }, saveLabel);
  const cancel = h('button', { type: 'button', class: 'quiet', onclick: () => void cancelEdit(app) }, 'Cancel');
  const form = h(
    'form',
    { class: 'editor', id: 'editor', novalidate: true, 'aria-label': title },
    isNew ? keyField(state.list.prefix) : null,
    isNew ? modeChoice(mode, showMode) : null,
    h('div', { class: 'field' }, h('label', { for: 'edit-type' }, 'Content type'), fields.type),
    h('datalist', { id: 'content-types' }, ...CONTENT_TYPES.map((type) => h('option', { value: type }))),
    fields.text,
    fields.file,
    isNew ? ttlField() : null,
    notice,
    h('div', { class: 'actions' }, saveButton, cancel),
  );
  wireForm(app, form);
  showMode(mode);
  ui.detailBody.replaceChildren(form);
  app.screens.renderRows();
  const first = isNew
    ? form.querySelector<HTMLElement>('#edit-key')
    : mode === 'text'
      ? fields.textArea
      : fields.fileInput;
  first?.focus();
}

/** The content type, and the value as text or as a file (one of the two shown at a time). */
function valueFields(existing: LucidValue | undefined, mode: EditorMode) {
  const original = existing ? viewOf(existing.contentType, existing.bytes()) : undefined;
  const originalText = original && (original.kind === 'text' || original.kind === 'json') ? original.text : '';
  const type = h('input', {
    id: 'edit-type',
    name: 'contentType',
    autocomplete: 'off',
    spellcheck: 'false',
    list: 'content-types',
    value: existing?.contentType ?? (mode === 'text' ? TEXT_TYPE : ''),
  });
  const textArea = h('textarea', {
    id: 'edit-text',
    name: 'value',
    rows: 14,
    spellcheck: 'false',
    value: originalText,
  });
  const fileInput = h('input', { id: 'edit-file', name: 'file', type: 'file' });
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) type.value = file.type || 'application/octet-stream';
  });
  const text = h('div', { class: 'field' }, h('label', { for: 'edit-text' }, 'Value'), textArea);
  const file = h(
    'div',
    { class: 'field' },
    h('label', { for: 'edit-file' }, 'File'),
    fileInput,
    h('p', { class: 'hint' }, 'Its bytes are stored as they are; any size up to the server’s limit.'),
  );
  return { type, textArea, fileInput, text, file };
}

function keyField(prefix: string): HTMLElement {
  const input = h('input', {
    id: 'edit-key',
    name: 'key',
    required: true,
    maxlength: 512,
    autocomplete: 'off',
    spellcheck: 'false',
    value: prefix,
  });
  return h('div', { class: 'field' }, h('label', { for: 'edit-key' }, 'Key'), input);
}

function modeChoice(mode: EditorMode, showMode: (mode: EditorMode) => void): HTMLElement {
  return h(
    'fieldset',
    { class: 'choice' },
    h('legend', {}, 'Value from'),
    ...(['text', 'file'] as const).map((choice) =>
      h(
        'label',
        {},
        h('input', {
          type: 'radio',
          name: 'mode',
          value: choice,
          checked: choice === mode,
          onchange: () => showMode(choice),
        }),
        choice === 'text' ? ' Text editor' : ' File upload',
      ),
    ),
  );
}

function ttlField(): HTMLElement {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: 'edit-ttl' }, 'Expire in (seconds, optional)'),
    h('input', { id: 'edit-ttl', name: 'ttl', type: 'number', min: 1, step: 1, inputmode: 'numeric' }),
  );
}

/** Submit and Ctrl+Enter save; any input marks the edit as one not to lose. */
function wireForm(app: App, form: HTMLFormElement): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void save(app, form);
  });
  const touched = () => {
    if (app.state.editor) app.state.editor.dirty = true;
  };
  form.addEventListener('input', touched);
  form.addEventListener('change', touched);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void save(app, form);
    }
  });
}

/** Leaves the editor; an edit in progress is only thrown away after a confirmation. */
export async function cancelEdit(app: App): Promise<void> {
  const { state, screens } = app;
  if (state.editor === undefined) return;
  const discard = () =>
    confirmDialog('Discard your changes?', 'What you typed or chose here has not been saved.', 'Discard');
  if (state.editor.dirty && !(await discard())) return;
  const key = state.editor?.key;
  state.editor = undefined;
  if (key !== undefined && state.current !== undefined) screens.showValue(key, state.current.value);
  else screens.showNothing();
}
