// Why a photo does not fit its record, as the server flagged it (src/domain/photo_evidence.rs): taken far
// from the recorded place, days before or after it, its file's EXIF disagreeing with its original's, or
// resized where the county requires originals. Flags are for a reviewer to weigh, never refusals.
//
// One wording for every page that shows a photo: the site page (observations' photos and the evidence's
// after and night photos) and the map's side panel.

import { h } from './common.js';
import { t } from './i18n.js';

/** One flag in words. */
export function evidenceFlagText(f) {
  const one = (x) => String(Math.round(x * 10) / 10);
  switch (f.code) {
    case 'far_from_record': return t('site.photoFar', { km: one(f.distance_m / 1000) });
    case 'before_record': return t('site.photoBefore', { days: one(f.hours / 24) });
    case 'after_record': return t('site.photoAfter', { days: one(f.hours / 24) });
    case 'file_exif_differs': return t(f.what === 'location' ? 'site.photoExifPlace' : 'site.photoExifTime');
    case 'not_original': return t('site.photoNotOriginal');
    default: return t('site.photoFlagged');
  }
}

/**
 * A photo's flags as a list of labels (`tag`: a `figcaption` under a photo, or a `div` where the figure has
 * its caption already), or null when it has none.
 */
export function photoFlags(photo, tag = 'figcaption') {
  const flags = photo?.evidence_flags || [];
  if (!flags.length) return null;
  return h(tag, { class: 'photo-flags', 'aria-label': t('site.photoFlagged') },
    flags.map((f) => h('span', { class: 'photo-flag', dataset: { code: f.code } }, evidenceFlagText(f))));
}

/** A photo's thumbnail `link` in a figure with its flags underneath; `data-flags` lists their codes. */
export function flaggedPhoto(photo, link) {
  const codes = (photo.evidence_flags || []).map((f) => f.code).join(' ');
  return h('figure', { class: 'photo-figure', dataset: { flags: codes } }, link, photoFlags(photo));
}
