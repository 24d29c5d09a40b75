import net from 'node:net';

const [sock, workMs] = process.argv.slice(2);
const s = net.createConnection(sock);
s.setNoDelay(true);
const frame = Buffer.alloc(4096, 7);
s.on('data', (d) => {
  for (let i = 0; i < d.length; i++) {
    // simulated result production: busy work, then one frame with the send time
    const end = performance.now() + Number(workMs);
    let x = 0;
    while (performance.now() < end) x++;
    frame.writeBigUInt64BE(process.hrtime.bigint(), 0);
    frame.writeUInt32BE(x & 0xff, 8);
    s.write(frame);
  }
});
s.on('close', () => process.exit(0));
