// The server's charts (src/reports/chart.rs) into a page: shared by the reports page and the crash time
// patterns page. The SVG is drawn by the server with its text escaped; it is still read as SVG (never as
// HTML) and stripped of scripts, event handlers and outside links before it joins the page.

import { h } from './common.js';

/** The chart `text` as an SVG node named `label`, or a note saying `fallback` when it is not SVG. */
export function svgNode(text, label, fallback) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (!svg || svg.localName !== 'svg' || doc.getElementsByTagName('parsererror').length) {
    return h('p', { class: 'muted' }, fallback);
  }
  for (const el of [svg, ...svg.querySelectorAll('*')]) {
    if (el.localName === 'script' || el.localName === 'foreignObject') {
      el.remove();
      continue;
    }
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on') || (name.endsWith('href') && !attr.value.startsWith('#'))) el.removeAttribute(attr.name);
    }
  }
  const node = document.importNode(svg, true);
  // Named by the caption: a picture with no name is read out as nothing (WCAG 1.1.1).
  node.setAttribute('role', 'img');
  node.setAttribute('aria-label', label);
  node.setAttribute('focusable', 'false');
  node.classList.add('chart-svg');
  return node;
}
