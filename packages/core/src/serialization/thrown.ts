/**
 * thrown — turns anything a step throws into a plain, storable record. `throw 'x'`, `throw null`,
 * an object whose `message` getter throws: each becomes a record with a readable message, and the
 * same record is read back on every replay.
 */

/** The stored form of an error: plain JSON, safe to keep and to rebuild. */
export interface StoredError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  step?: string;
  attempts?: number;
  path?: string;
  bytes?: number;
  limit?: number;
  problems?: string[];
  cause?: StoredError;
}

const MAX_CAUSE_DEPTH = 5;
const MAX_MESSAGE_CHARS = 8_192;

function safeGet(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function safeString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    return undefined;
  }
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}… (truncated)` : text;
}

function describeNonObject(value: unknown): string {
  if (value === null) return 'null was thrown';
  if (value === undefined) return 'undefined was thrown';
  if (typeof value === 'string') return value.length === 0 ? 'an empty string was thrown' : value;
  if (typeof value === 'symbol') return `a symbol was thrown: ${value.description ?? ''}`;
  return `${typeof value} was thrown: ${safeString(value) ?? '?'}`;
}

/** Describes any thrown value as a `StoredError`; never throws itself. */
export function describeThrown(value: unknown, depth = 0): StoredError {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return { name: 'NonErrorThrown', message: clip(describeNonObject(value)) };
  }
  const rawName = safeGet(value, 'name');
  const name = typeof rawName === 'string' && rawName !== '' ? rawName : undefined;
  const rawMessage = safeGet(value, 'message');
  let message = typeof rawMessage === 'string' ? rawMessage : undefined;
  if (message === undefined) {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined;
    }
    message = json !== undefined && json !== '{}' ? `non-Error object was thrown: ${json}` : `${name ?? 'object'} was thrown (no readable message)`;
  }
  let isError = false;
  try {
    isError = value instanceof Error;
  } catch {
    // A revoked Proxy throws even on instanceof: treat it as a non-Error object.
  }
  const record: StoredError = {
    name: isError && name ? name : (name ?? 'NonErrorThrown'),
    message: clip(message),
  };
  const code = safeGet(value, 'code');
  if (typeof code === 'string') record.code = code;
  const stack = safeGet(value, 'stack');
  if (typeof stack === 'string') record.stack = clip(stack);
  const step = safeGet(value, 'step');
  if (typeof step === 'string') record.step = step;
  const attempts = safeGet(value, 'attempts');
  if (typeof attempts === 'number') record.attempts = attempts;
  const path = safeGet(value, 'path');
  if (typeof path === 'string') record.path = path;
  for (const key of ['bytes', 'limit'] as const) {
    const n = safeGet(value, key);
    if (typeof n === 'number') record[key] = n;
  }
  const problems = safeGet(value, 'problems');
  if (Array.isArray(problems) && problems.every((p) => typeof p === 'string')) record.problems = [...(problems as string[])];
  const cause = safeGet(value, 'cause');
  if (cause !== undefined && depth < MAX_CAUSE_DEPTH) record.cause = describeThrown(cause, depth + 1);
  return record;
}

/** Wraps a non-Error throw in an Error so retry machinery sees a real error; keeps the record. */
export class ThrownValueError extends Error {
  constructor(readonly record: StoredError, readonly thrown: unknown) {
    super(record.message);
    this.name = record.name;
  }
}

/** Returns `value` if it is an Error, else an Error carrying its readable description. */
export function asError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new ThrownValueError(describeThrown(value), value);
}

/** The stored form of anything thrown; a wrapped non-Error keeps the record made when it was caught. */
export function toStoredError(value: unknown): StoredError {
  return value instanceof ThrownValueError ? value.record : describeThrown(value);
}

export function encodeError(value: unknown): string {
  return JSON.stringify(toStoredError(value));
}

export function decodeError(text: string): StoredError {
  return JSON.parse(text) as StoredError;
}
