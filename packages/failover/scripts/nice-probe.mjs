// Quick probe behind the Supervisor's default niceness (issue 13 item 4): K child processes each
// do `workMs` of busy work and write one 4 KiB frame on a trigger; reports median and p99 of
// "last write -> all K read" in this process, with the children at niceness `nice`.
// usage: node scripts/nice-probe.mjs [K=16] [nice=0] [rounds=300] [workMs=1]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [K = '16', nice = '0', rounds = '300', workMs = '1'] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'nice-probe-'));
const sock = join(dir, 's.sock');
const CHILD = fileURLToPath(new URL('./nice-probe-child.mjs', import.meta.url));
const conns = [];
let round = null;
const server = net.createServer((c) => {
  conns.push(c);
  let buf = Buffer.alloc(0);
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4096) {
      const sent = buf.readBigUInt64BE(0);
      buf = buf.subarray(4096);
      const now = process.hrtime.bigint();
      round.got++;
      if (sent > round.lastWrite) round.lastWrite = sent;
      if (round.got === Number(K)) {
        round.done(Number(now - round.lastWrite) / 1e6);
      }
    }
  });
});
server.listen(sock);
await new Promise((r) => server.once('listening', r));
const kids = [];
for (let i = 0; i < Number(K); i++) {
  const k = spawn(process.execPath, [CHILD, sock, workMs], { stdio: 'ignore' });
  setPriority(k.pid, Number(nice));
  kids.push(k);
}
while (conns.length < Number(K)) await new Promise((r) => setTimeout(r, 10));
const lat = [];
for (let r = 0; r < Number(rounds); r++) {
  const ms = await new Promise((resolve) => {
    round = { got: 0, lastWrite: 0n, done: resolve };
    for (const c of conns) c.write('t');
  });
  if (r >= 20) lat.push(ms);
  await new Promise((r2) => setTimeout(r2, 5));
}
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
console.log(
  JSON.stringify({
    K: Number(K),
    nice: Number(nice),
    n: lat.length,
    median: +q(0.5).toFixed(3),
    p99: +q(0.99).toFixed(3),
    load: loadavg()[0],
  }),
);
for (const c of conns) c.destroy();
server.close();
for (const k of kids) k.kill();
rmSync(dir, { recursive: true, force: true });
