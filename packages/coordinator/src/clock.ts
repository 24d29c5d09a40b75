// The coordinator depends on ipc-transport anyway, so it takes that package's clock rather than
// keeping a copy of its own: one object, `coordinator.systemClock === transport.systemClock`.
export { type Clock, systemClock } from '@daemoneye/ipc-transport';
