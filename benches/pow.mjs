// The public report page's proof of work (web/pow.js): how long the page's own SHA-256 search takes at the
// server's default difficulty, against a baseline of the same search with Node's native SHA-256 (OpenSSL),
// which is roughly what a script sending spam would use. Random challenges of the server's shape; the nonce
// found is checked by the same rule as the server's (`domain::citizen::check_pow`).
//
//   node benches/pow.mjs [bits=16] [challenges=30]

import { createHash, randomBytes } from 'node:crypto';
import { solve, sha256, leadingZeroBits } from '../web/pow.js';

const bits = Number(process.argv[2] || 16);
const runs = Number(process.argv[3] || 30);

function nativeSolve(challenge) {
  for (let n = 0; ; n++) {
    const digest = createHash('sha256').update(`${challenge}.${n}`).digest();
    let zeros = 0;
    for (const byte of digest) {
      if (byte === 0) { zeros += 8; continue; }
      zeros += Math.clz32(byte) - 24;
      break;
    }
    if (zeros >= bits) return String(n);
  }
}

const page = [];
const native = [];
let tries = 0;
for (let i = 0; i < runs; i++) {
  const challenge = `v1.${Math.floor(Date.now() / 1000) + 900}.${bits}.${randomBytes(8).toString('hex')}.${randomBytes(16).toString('hex')}`;
  let started = process.hrtime.bigint();
  const nonce = await solve(challenge, bits);
  page.push(Number(process.hrtime.bigint() - started) / 1e6);
  const check = leadingZeroBits(sha256(new TextEncoder().encode(`${challenge}.${nonce}`)));
  if (check < bits) throw new Error(`nonce ${nonce} does not solve ${challenge}`);
  tries += Number(nonce) + 1;
  started = process.hrtime.bigint();
  if (nativeSolve(challenge) !== nonce) throw new Error('the two searches disagree');
  native.push(Number(process.hrtime.bigint() - started) / 1e6);
}

const stats = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  return `${mean.toFixed(0).padStart(6)} ms mean, ${sorted[Math.floor(ms.length / 2)].toFixed(0).padStart(6)} median, ${sorted[Math.floor(ms.length * 0.9)].toFixed(0).padStart(6)} p90`;
};
const pageMs = page.reduce((a, b) => a + b, 0);
console.log(`proof of work at ${bits} bits, ${runs} challenges, ${(tries / runs).toFixed(0)} hashes a challenge on average (2^${bits} = ${2 ** bits} expected)`);
console.log(`  web/pow.js (the page)        ${stats(page)}   ${(tries / pageMs * 1000 / 1e3).toFixed(0)} k hashes/s`);
console.log(`  node:crypto (native, baseline) ${stats(native)}`);
