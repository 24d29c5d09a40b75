// What both consumer programs run: one real use of each package, a broker and a collector
// client over a real socket in a temp dir included.
export async function runChecks({
  aggregator,
  balancer,
  coordinator,
  failover,
  transport,
  proto,
  mkdtemp,
  rm,
  tmpdir,
  join,
}) {
  const done = [];

  const heartbeat = proto.envelope({
    $case: 'heartbeat',
    value: { activeTasks: 2, queueDepth: 0, cpu: 0.5, memoryBytes: 1n },
  });
  const decoded = proto.decodeEnvelope(proto.encodeEnvelope(heartbeat));
  if (decoded.body?.value?.activeTasks !== 2) throw new Error('proto round trip failed');
  done.push('proto');

  const agg = new aggregator.ResultAggregator({ timeoutMs: 1000 });
  let completed;
  agg.on('complete', (result) => {
    completed = result;
  });
  agg.begin('c-1', ['a']);
  agg.addResult('a', 'c-1', [{ fingerprint: 'f', kind: 'k', subject: 's' }], { final: true });
  if (completed?.reason !== 'all-received') throw new Error('aggregator did not complete');
  agg.close();
  done.push('aggregator');

  const lb = balancer.createLoadBalancer({});
  lb.register('a', { taskKinds: ['enumerate'] });
  if (lb.trySelect({ taskKind: 'enumerate' }) !== 'a') throw new Error('balancer did not select');
  done.push('balancer');

  const registry = new failover.PendingTaskRegistry({});
  if (typeof registry.stats !== 'function' && typeof registry.size !== 'number')
    throw new Error('failover registry missing');
  done.push('failover');

  const dir = await mkdtemp(join(tmpdir(), 'de-consumer-'));
  try {
    const endpoint =
      process.platform === 'win32'
        ? `\\\\.\\pipe\\de-consumer-${process.pid}`
        : join(dir, 'agent.sock');
    const broker = transport.createBroker({ endpoint });
    const connected = new Promise((resolve) =>
      broker.once('collector-connected', (info) => resolve(info.collectorId)),
    );
    await broker.listen();
    const client = transport.createCollectorClient({
      collectorId: 'procmond-1',
      kind: 'procmond',
      taskKinds: ['enumerate'],
      endpoint,
    });
    await client.connect();
    if ((await connected) !== 'procmond-1') throw new Error('broker saw another collector');
    await client.close();
    await broker.close();
    done.push('ipc-transport');

    // The coordinator with no collectors: it listens, reports its status and closes cleanly.
    const agent = coordinator.createCoordinator({ endpoint, collectors: [] });
    await agent.start();
    if (agent.status().collectors.length !== 0) throw new Error('coordinator invented a collector');
    await agent.close();
    done.push('coordinator');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return `ok ${done.join(' ')}`;
}
