// A tiny program over every published package, as an outside user writes it: imported (ESM) here,
// required (CommonJS) by program.cjs. Prints one line `ok <checks>` or throws.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as aggregator from '@daemoneye/aggregator';
import * as balancer from '@daemoneye/balancer';
import * as coordinator from '@daemoneye/coordinator';
import * as failover from '@daemoneye/failover';
import * as transport from '@daemoneye/ipc-transport';
import * as proto from '@daemoneye/proto';
import { runChecks } from './checks.mjs';

console.log(
  await runChecks({
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
  }),
);
