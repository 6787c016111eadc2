/** Saving the editor: the form read and checked, one conditional PUT, and each refusal explained. */
import type { App, EditorState } from './app.js';
import { h } from './dom.js';
import { explain, isStatus, reloadButton, say, showDetailNotice } from './messages.js';

export const TEXT_TYPE = 'text/plain;charset=utf-8';

/** What the form asks to store. */
interface Draft {
  key: string;
  body: string | Blob;
  contentType: string;
  ttl: number | undefined;
}

/** The form's content, or the sentence that says what is missing or wrong in it. */
function readDraft(editor: EditorState, form: HTMLFormElement): Draft | string {
  const field = <T extends HTMLElement>(name: string) => form.querySelector<T>(`[name="${name}"]`);
  const key = editor.isNew ? (field<HTMLInputElement>('key')?.value ?? '') : editor.key!;
  const contentType = field<HTMLInputElement>('contentType')?.value.trim() ?? '';
  const ttlText = field<HTMLInputElement>('ttl')?.value ?? '';
  let body: string | Blob;
  if (key === '') return 'Give the key a name.';
  if (editor.mode === 'file') {
    const file = field<HTMLInputElement>('file')?.files?.[0];
    if (file === undefined) return 'Choose a file to upload.';
    body = file;
  } else {
    body = field<HTMLTextAreaElement>('value')?.value ?? '';
  }
  if ((typeof body === 'string' ? body.length : body.size) === 0) {
    return 'Lucid does not store empty values: write something, or delete the key instead.';
  }
  const ttl = ttlText === '' ? undefined : Number(ttlText);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1))
    return 'Expiry: give a whole number of seconds, 1 or more.';
  return { key, body, contentType, ttl };
}

/**
 * Stores the form's value: a new key only if none exists (If-None-Match: *), an edit only over the
 * version it started from (If-Match), or over `overwriteEtag` when the user chose to overwrite theirs.
 */
export async function save(app: App, form: HTMLFormElement, overwriteEtag?: string): Promise<void> {
  const { state } = app;
  const { client, editor } = state;
  if (client === undefined || editor === undefined || editor.saving) return;
  const draft = readDraft(editor, form);
  if (typeof draft === 'string') return showDetailNotice(app, draft);
  const { key, body, ttl } = draft;
  editor.saving = true;
  showDetailNotice(app, 'Saving…', 'info');
  state.busy++;
  try {
    const result = await client.put(key, body, {
      contentType:
        draft.contentType || (typeof body === 'string' ? TEXT_TYPE : body.type || 'application/octet-stream'),
      ...(editor.isNew ? { ifNoneMatch: '*' } : { ifMatch: overwriteEtag ?? editor.etag }),
      ...(ttl === undefined ? {} : { ttl }),
    });
    state.editor = undefined;
    say(app, `${result.created ? 'Created' : 'Saved'} “${key}”.`);
    void app.screens.loadPage();
    await app.screens.openKey(key);
  } catch (error) {
    saveFailed(app, form, key, error);
  } finally {
    state.busy--;
  }
}

/** Says why the save was refused; what was typed stays in the editor. */
function saveFailed(app: App, form: HTMLFormElement, key: string, error: unknown): void {
  const { editor } = app.state;
  if (editor === undefined) return;
  editor.saving = false;
  if (isStatus(error, 412) && editor.isNew) {
    showDetailNotice(
      app,
      `A key named “${key}” already exists, so nothing was written (412). Open it to edit it, or pick another name.`,
      'warning',
      reloadButton(app, key, `Open “${key}”`),
    );
  } else if (isStatus(error, 412)) {
    const theirs = error.etag;
    showDetailNotice(
      app,
      `Conflict: “${key}” was changed by someone else after you opened it, so your edit was not saved (412) ` +
        'and nothing was overwritten. Your text is still here.',
      'warning',
      reloadButton(app, key, 'Reload their version (discard mine)'),
      ...(theirs
        ? [h('button', { type: 'button', onclick: () => void save(app, form, theirs) }, 'Save mine over theirs')]
        : []),
    );
  } else if (isStatus(error, 409)) {
    const holder = app.state.current?.value.lockHolder;
    const by = holder ? ` by ${holder}` : '';
    showDetailNotice(
      app,
      `Refused (409): ${error.message} “${key}” is locked${by}; unlock it before saving. Your text is still here.`,
    );
  } else {
    const message = explain(app, error, 'Saving');
    if (message !== undefined) showDetailNotice(app, message);
  }
}
