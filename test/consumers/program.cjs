// The same checks as program.mjs, through require() (Node >= 20.19 loads the ESM builds).
const { mkdtemp, rm } = require('node:fs/promises');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const modules = {
  aggregator: require('@daemoneye/aggregator'),
  balancer: require('@daemoneye/balancer'),
  coordinator: require('@daemoneye/coordinator'),
  failover: require('@daemoneye/failover'),
  transport: require('@daemoneye/ipc-transport'),
  proto: require('@daemoneye/proto'),
};
import('./checks.mjs')
  .then(({ runChecks }) => runChecks({ ...modules, mkdtemp, rm, tmpdir, join }))
  .then((line) => console.log(line));
