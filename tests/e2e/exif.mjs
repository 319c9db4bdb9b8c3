// The phone's EXIF reader (web/photos.js, `readExif`) run in Node on files made by the Rust test: every
// `*.jpg` of the directory is read as the page reads it (its first 128 KB only) and what it found is printed.
// No browser: the reader is plain JavaScript over an ArrayBuffer.
//
//   node tests/e2e/exif.mjs <directory>
//
// Prints one JSON line {"ok": true, "files": {"<name>": {fields…} | {"error": "…"}}}.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, fail } from './lib.mjs';
import { readExif, EXIF_READ_BYTES } from '../../web/photos.js';

const [dir] = process.argv.slice(2);
if (!dir) fail('usage', 'usage: node tests/e2e/exif.mjs <directory>');

await run('exif', async () => {
  const files = {};
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.jpg')).sort()) {
    const bytes = readFileSync(join(dir, name)).subarray(0, EXIF_READ_BYTES);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    try {
      files[name] = (await readExif(buffer)).fields;
    } catch (error) {
      files[name] = { error: String(error) };
    }
  }
  return { files };
});
