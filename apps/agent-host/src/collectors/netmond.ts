#!/usr/bin/env node
import type { TaskAssignment } from '@daemoneye/proto';
import { detection, runCollector } from './runtime.js';
import { listSockets, socketFingerprint } from './socket-list.js';

async function handle(task: TaskAssignment) {
  if (task.taskKind !== 'enumerate')
    throw new Error(`netmond does not handle task kind ${task.taskKind}`);
  const sockets = await listSockets();
  return sockets.map((s) =>
    detection(socketFingerprint(s), 'socket', `${s.protocol} ${s.localAddress}:${s.localPort}`, {
      protocol: s.protocol,
      localAddress: s.localAddress,
      localPort: String(s.localPort),
      remoteAddress: s.remoteAddress,
      remotePort: String(s.remotePort),
      state: s.state,
      uid: String(s.uid),
      inode: s.inode,
    }),
  );
}

await runCollector({ kind: 'netmond', taskKinds: ['enumerate'], handle });
