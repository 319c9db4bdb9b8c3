// Draws the inspection page's app icons (web/icons/*.png, named by web/manifest.webmanifest): a warning
// triangle on the brand's dark blue. No image library: pixels are computed here and written as PNG with
// Node's zlib. Run `node scripts/icons.mjs` after changing the drawing, and commit the PNGs.
//
// `icon-maskable-512.png` keeps its drawing inside the central 60 % (the maskable safe zone is a circle of
// 80 %), so a launcher may cut it to any shape.

import { writeFileSync, mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BACKGROUND = [0x0b, 0x25, 0x45];
const SIGN = [0xf2, 0xb7, 0x05];
const MARK = [0x0b, 0x25, 0x45];

/** The colour at (x, y) in a unit square, the triangle taking `scale` of it. */
function colour(x, y, scale) {
  const u = (x - 0.5) / scale + 0.5;
  const v = (y - 0.5) / scale + 0.5;
  const top = 0.08;
  const bottom = 0.9;
  const inTriangle = v >= top && v <= bottom && Math.abs(u - 0.5) <= ((v - top) / (bottom - top)) * 0.47;
  if (!inTriangle) return BACKGROUND;
  const bar = Math.abs(u - 0.5) <= 0.045 && v >= 0.34 && v <= 0.67;
  const dot = (u - 0.5) ** 2 + (v - 0.77) ** 2 <= 0.05 ** 2;
  return bar || dot ? MARK : SIGN;
}

/** RGB pixels, 4×4 samples each so that the edges are smooth. */
function draw(size, scale) {
  const rows = [];
  for (let py = 0; py < size; py += 1) {
    const row = Buffer.alloc(1 + size * 3); // filter byte 0: none
    for (let px = 0; px < size; px += 1) {
      const sum = [0, 0, 0];
      for (let sy = 0; sy < 4; sy += 1) {
        for (let sx = 0; sx < 4; sx += 1) {
          const c = colour((px + (sx + 0.5) / 4) / size, (py + (sy + 0.5) / 4) / size, scale);
          for (let i = 0; i < 3; i += 1) sum[i] += c[i];
        }
      }
      for (let i = 0; i < 3; i += 1) row[1 + px * 3 + i] = Math.round(sum[i] / 16);
    }
    rows.push(row);
  }
  return Buffer.concat(rows);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function png(size, scale) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(draw(size, scale), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const dir = new URL('../web/icons/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('icon-192.png', dir), png(192, 0.86));
writeFileSync(new URL('icon-512.png', dir), png(512, 0.86));
writeFileSync(new URL('icon-maskable-512.png', dir), png(512, 0.6));
