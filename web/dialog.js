// Modal dialogs on the native <dialog> element (focus trap, Escape and the backdrop come with it): a confirm
// box and a small form whose submit may fail with the server's explanation and stay open.

import { h } from './common.js';
import { t } from './i18n.js';

/**
 * Opens a dialog and resolves with what `onSubmit(form)` returned, or null if it was cancelled.
 * `onSubmit` may throw: its `detail` (problem+json) or message is shown in the dialog, which stays open.
 * `wide`: room for a form of several fields.
 */
export function openDialog({
  title, content = [], submitLabel, cancelLabel = t('common.cancel'), danger = false, onSubmit = () => true, id, wide = false,
}) {
  return new Promise((resolve) => {
    const error = h('p', { class: 'dialog-error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, value: 'ok' }, submitLabel || t('common.ok'));
    const cancel = h('button', { type: 'button', class: 'btn', value: 'cancel', onclick: () => close(null) }, cancelLabel);
    const form = h('form', { method: 'dialog', class: 'dialog-form', novalidate: true },
      h('h2', { class: 'dialog-title' }, title),
      h('div', { class: 'dialog-body' }, content),
      error,
      h('div', { class: 'dialog-actions' }, cancel, submit));
    const dialog = h('dialog', { class: wide ? 'dialog dialog-wide' : 'dialog', id }, form);
    let settled = false;

    function close(value) {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    }

    // An explanation goes once the user changes what it was about.
    form.addEventListener('input', () => { error.hidden = true; });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      try {
        const value = await onSubmit(form);
        if (value !== undefined && value !== false) close(value);
      } catch (err) {
        error.textContent = err?.detail || err?.message || String(err);
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector('input, select, textarea');
    (first || submit).focus();
  });
}

/** Asks a yes/no question; resolves true when confirmed. */
export async function confirmDialog({ title, message, confirmLabel, danger = false, id }) {
  const answer = await openDialog({
    title, content: [h('p', {}, message)], submitLabel: confirmLabel, danger, id,
  });
  return answer === true;
}
