// A file import with a dry run first, as the crash records' and the hotline tickets' pages have it: the dry
// run needs a file; the import is usable only for the very file and options a dry run was made for, and once
// done needs another dry run.

import { apiUpload, h } from './common.js';
import { t } from './i18n.js';

/**
 * Wires the upload form: `file` (the file input), `options` (inputs whose values the dry run covers),
 * `dryRunButton`, `importButton`. `parts()` gives the text parts as [name, value] pairs (empty values are left
 * out); the answer goes to `onReport(report, dryRun)` (awaited) or the failure to `onError(error)`.
 */
export function fileImport({ url, file, options, dryRunButton, importButton, parts, onReport, onError }) {
  let previewed = null;
  let busy = false;
  const signature = () => {
    const chosen = file.files[0];
    return chosen ? JSON.stringify([chosen.name, chosen.size, chosen.lastModified, ...options.map((o) => o.value)]) : null;
  };
  const render = () => {
    const sig = signature();
    dryRunButton.disabled = busy || !sig;
    importButton.disabled = busy || !sig || previewed !== sig;
  };
  const send = async (dryRun) => {
    const chosen = file.files[0];
    if (!chosen) return;
    const sig = signature();
    const body = new FormData();
    body.append('file', chosen, chosen.name);
    for (const [name, value] of parts()) if (value) body.append(name, value);
    body.append('dry_run', dryRun ? 'true' : 'false');
    busy = true;
    render();
    try {
      const report = await apiUpload(url, body);
      previewed = dryRun ? sig : null;
      await onReport(report, dryRun);
    } catch (error) {
      previewed = null;
      onError(error);
    } finally {
      busy = false;
      render();
    }
  };
  for (const input of [file, ...options]) input.addEventListener('change', render);
  dryRunButton.addEventListener('click', () => send(true));
  importButton.addEventListener('click', () => send(false));
  render();
}

/** One count of an import's report: its label and the number (`data-count` is the label's key, for tests). */
export function reportCount(key, n) {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-label muted small' }, t(key)), ' ', h('strong', { dataset: { count: key } }, String(n)));
}
