// Benchmark: the map page's first render in headless Chromium, over whatever the server holds (the tile
// benchmark runs it on the 1 M-site dataset). Each run is a fresh browser context (empty HTTP cache), signed
// in, then the map opened on the whole dataset (`#10/31.9/120.55`, lon 120.3–120.8, lat 31.75–32.05 in view
// at 1280 × 800); "first full paint" is the time from navigation until the page is ready and MapLibre is idle
// with every visible tile drawn. Prints one line per run and the median.
//
//   E2E_USER=… E2E_PASSWORD=… node benches/map_render.mjs <base-url> [label]   (run by `cargo bench --bench tiles`)

import { launch, credentials } from '../tests/e2e/lib.mjs';

const RUNS = 3;
const VIEW = '/#10/31.9/120.55';
const [base, label = ''] = process.argv.slice(2);
const account = credentials();
const browser = await launch();
const times = [];
try {
  for (let run = 0; run < RUNS; run += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    const page = await context.newPage();
    // Signed in through the API, not the sign-in page: that would open the map once already.
    const session = await context.request.post(new URL('/api/v1/session', base).href, {
      data: { name: account.name, password: account.password },
    });
    if (!session.ok()) throw new Error(`sign-in answered ${session.status()}`);
    const tiles = [];
    page.on('requestfinished', (request) => {
      if (request.url().includes('/tiles/')) tiles.push(request);
    });
    await page.goto(new URL(VIEW, base).href);
    const paintedMs = await page.evaluate(async () => {
      await window.roadledger.ready;
      await window.roadledger.idle();
      return performance.now();
    });
    let bytes = 0;
    for (const request of tiles) bytes += (await request.sizes()).responseBodySize;
    const cells = await page.evaluate(() => window.roadledger.renderedCells().reduce((sum, c) => sum + c.n, 0));
    times.push(paintedMs);
    console.log(`first render${label}, run ${run + 1}: ${paintedMs.toFixed(0)} ms to a full paint; ${tiles.length} tiles, `
      + `${(bytes / 1024).toFixed(0)} KiB on the wire; the cells drawn hold ${cells} sites`);
    await context.close();
  }
} finally {
  await browser.close();
}
times.sort((a, b) => a - b);
console.log(`first render${label}, median of ${RUNS}: ${times[Math.floor(RUNS / 2)].toFixed(0)} ms`);
