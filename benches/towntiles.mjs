// What the phone keeps of each town for its small map without signal (web/towntiles.js): for every town of a
// running server, the tiles `townTilePaths` names for the town's box (both layers, tile zooms 10–14, at most
// 1 500), their bytes as served, and how long fetching them one after another takes over loopback, against a
// baseline of the same number of `GET /healthz` answers.
//
//   node benches/towntiles.mjs <base-url> <user> <password>      (e.g. the demo: demo-inspector demo-inspector-2026)

import { townTilePaths } from '../web/towntiles.js';

const [base, name, password] = process.argv.slice(2);
if (!base || !name || !password) {
  console.error('usage: node benches/towntiles.mjs <base-url> <user> <password>');
  process.exit(2);
}
const signIn = await fetch(`${base}/api/v1/session`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }),
});
if (!signIn.ok) throw new Error(`sign-in answered ${signIn.status}`);
const cookie = signIn.headers.get('set-cookie').split(';')[0];
const towns = await (await fetch(`${base}/api/v1/towns`, { headers: { cookie } })).json();

console.log('town\tbox (km)\ttiles\tbytes\tfetch ms\tbaseline ms (as many /healthz)');
for (const f of towns.features) {
  const rings = (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates).map((p) => p[0]);
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [lon, lat] of rings.flat()) {
    box[0] = Math.min(box[0], lon); box[1] = Math.min(box[1], lat);
    box[2] = Math.max(box[2], lon); box[3] = Math.max(box[3], lat);
  }
  const km = [(box[2] - box[0]) * 111.32 * Math.cos((((box[1] + box[3]) / 2) * Math.PI) / 180), (box[3] - box[1]) * 111.32];
  const paths = townTilePaths(box);
  let bytes = 0;
  let started = performance.now();
  for (const path of paths) bytes += (await (await fetch(base + path)).arrayBuffer()).byteLength;
  const tilesMs = performance.now() - started;
  started = performance.now();
  for (let i = 0; i < paths.length; i++) await (await fetch(`${base}/healthz`)).arrayBuffer();
  const baselineMs = performance.now() - started;
  console.log(`${f.properties.name}\t${km[0].toFixed(1)} × ${km[1].toFixed(1)}\t${paths.length}\t${bytes}\t${tilesMs.toFixed(0)}\t${baselineMs.toFixed(0)}`);
}
