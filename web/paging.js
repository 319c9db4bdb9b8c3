// One way to read a paged list of sites: `GET /api/v1/sites` answers a page and `next_after`, the id to pass
// as `after` for the next one (keyset paging, src/http/sites.rs). The map and the work bench read every page
// up to a bound, so that a county-sized answer cannot freeze a phone.

import { getJson } from './common.js';

/**
 * The features of every page of `GET /api/v1/sites?<params>`, at most `pagesMax` pages of `pageSize` sites
 * (the page size may not exceed the server's `sites_page_size_max` from /api/v1/settings). `truncated` says
 * that more sites were left unread. `signal` aborts the reading (a newer view of the map).
 */
export async function allSites(params, { pageSize, pagesMax, signal } = {}) {
  const features = [];
  let after = null;
  let pages = 0;
  do {
    const query = new URLSearchParams({ ...params, limit: String(pageSize) });
    if (after) query.set('after', after);
    const page = await getJson(`/api/v1/sites?${query}`, { signal });
    features.push(...page.features);
    after = page.next_after;
    pages += 1;
  } while (after && pages < pagesMax);
  return { features, truncated: Boolean(after) };
}
