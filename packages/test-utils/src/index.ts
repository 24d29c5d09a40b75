export { FakeClock } from './fake-clock.js';
export { mulberry32 } from './rng.js';
export { type TempDir, tempDir } from './temp-dir.js';
export { testEndpoint } from './test-endpoint.js';
export { type UntilOptions, until } from './until.js';
