import type { Clock } from './clock.js';

// Option validation shared by every class: one message shape naming the option and its range.

export function checkNumber(
  name: string,
  value: unknown,
  min: number,
  max: number,
  integer = false,
): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, got ${typeof value}`);
  }
  if ((integer && !Number.isInteger(value)) || value < min || value > max) {
    const kind = integer ? 'an integer' : 'a number';
    throw new RangeError(`${name} must be ${kind} in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`${name} must be a boolean, got ${typeof value}`);
  }
  return value;
}

export function checkFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, got ${typeof value}`);
  }
}

export function checkClock(name: string, value: Clock): Clock {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be a Clock object`);
  }
  checkFunction(`${name}.now`, value.now);
  checkFunction(`${name}.setTimeout`, value.setTimeout);
  checkFunction(`${name}.clearTimeout`, value.clearTimeout);
  return value;
}

export function checkObject(name: string, value: unknown): void {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be an object`);
  }
}

export function checkId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string`);
  }
  return value;
}
