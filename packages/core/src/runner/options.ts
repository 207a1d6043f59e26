/**
 * options — checks of the Runner's pluggable parts (clock, serializer, logger, random, workflows)
 * and of the worker id it writes into every lease, so a wrong one fails in the constructor with an
 * InvalidArgumentError instead of as a TypeError (or a raw database error) in the middle of a run.
 */
import { InvalidArgumentError } from '../errors/errors';
import type { RunnerOptions } from './runner';

const CONTROL = /[\u0000-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  return names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}

function missing(value: unknown, names: readonly string[]): string {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return `got ${describe(value)}`;
  const absent = names.filter((name) => typeof (value as Record<string, unknown>)[name] !== 'function');
  return `${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not a function`;
}

export function validateRunnerParts(options: RunnerOptions): void {
  const { workerId, clock, serializer, logger, random, workflows } = options;
  if (typeof workerId === 'string' && (CONTROL.test(workerId) || LONE_SURROGATE.test(workerId))) {
    throw new InvalidArgumentError('Runner options.workerId must not contain control characters (NUL, newlines…) or lone surrogates: it is written into every lease.');
  }
  if (clock !== undefined && !hasMethods(clock, ['now', 'sleep'])) {
    throw new InvalidArgumentError(`Runner options.clock must be a Clock with now() and sleep(ms, signal), like systemClock or new ManualClock() (${missing(clock, ['now', 'sleep'])}).`);
  }
  if (serializer !== undefined && !hasMethods(serializer, ['serialize', 'deserialize'])) {
    throw new InvalidArgumentError(`Runner options.serializer must have serialize(value) and deserialize(text) functions (${missing(serializer, ['serialize', 'deserialize'])}).`);
  }
  const levels = ['debug', 'info', 'warn', 'error'];
  if (logger !== undefined && !hasMethods(logger, levels)) {
    throw new InvalidArgumentError(`Runner options.logger must have debug, info, warn and error functions (${missing(logger, levels)}).`);
  }
  if (random !== undefined && typeof random !== 'function') throw new InvalidArgumentError(`Runner options.random must be a function returning a number in [0, 1) (got ${describe(random)}).`);
  if (workflows !== undefined && !Array.isArray(workflows)) {
    throw new InvalidArgumentError(`Runner options.workflows must be an array of workflow classes (got ${describe(workflows)}).`);
  }
}
