/**
 * serializer — how inputs and step outputs become text in the database and back. The default is
 * devalue: type-preserving (Date, BigInt, Map, Set, undefined, NaN, -0, typed arrays, repeated and
 * cyclic references), ASCII-only output (NUL and lone surrogates are escaped, so PostgreSQL text
 * accepts every value), and it refuses what it cannot round-trip with the path inside the value.
 * Every value is checked against the payload limit before anything is written.
 */
import * as devalue from 'devalue';
import { PayloadTooLargeError, SerializationError } from '../errors/errors';

/** A pluggable serializer. `serialize` must throw for values it cannot round-trip. */
export interface Serializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

/** The default serializer (devalue). */
export const devalueSerializer: Serializer = Object.freeze({
  serialize: (value: unknown) => devalue.stringify(value),
  deserialize: (text: string) => devalue.parse(text),
});

/** Default payload limit: 1 MiB of serialized text per input or step output. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** String.prototype.isWellFormed (Node 20; ES2024, newer than the lib this package compiles against). */
type WellFormedString = string & { isWellFormed(): boolean };

function pathOf(error: unknown): string {
  if (error && typeof error === 'object' && 'path' in error && typeof error.path === 'string') return error.path;
  return '';
}

/** The serializer's reason, with what to do where devalue's own words would not say it. */
function explain(error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  if (/Promise or thenable/.test(reason)) return 'a Promise cannot be stored (await it, and store its value)';
  if (/non-POJO/.test(reason)) return `${reason} (class instances and Errors: store a plain object with their data instead)`;
  return reason;
}

function describePath(path: string): string {
  return path === '' ? 'the value itself' : `value${path}`;
}

/**
 * Serializes `value` for storage, naming `what` ("output of step charge", "input") in errors.
 * Throws `SerializationError` (with the path) or `PayloadTooLargeError`; never returns bad text.
 */
export function encodeValue(serializer: Serializer, value: unknown, what: string, maxBytes: number): string {
  let text: string;
  try {
    text = serializer.serialize(value);
  } catch (error) {
    const path = pathOf(error);
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      throw new SerializationError(`Cannot store the ${what}: it is nested too deeply to serialize (${error.message}). Flatten the value or store it elsewhere.`, path, { cause: error });
    }
    if (error instanceof Error && !('path' in error)) {
      // Not a refusal with a path: a getter inside the value threw, or a custom serializer failed.
      throw new SerializationError(`Cannot store the ${what}: serializing it threw: ${error.message}`, path, { cause: error });
    }
    throw new SerializationError(`Cannot store the ${what}: ${explain(error)} at ${describePath(path)}.`, path, { cause: error });
  }
  if (typeof text !== 'string') {
    throw new SerializationError(`Cannot store the ${what}: the serializer returned ${typeof text}, not text.`, '');
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new PayloadTooLargeError(
      `Cannot store the ${what}: it is ${bytes} bytes serialized, over the ${maxBytes}-byte limit (maxPayloadBytes).`,
      bytes,
      maxBytes,
    );
  }
  if (text.includes('\u0000')) {
    throw new SerializationError(`Cannot store the ${what}: the serializer produced a NUL character, which databases cannot hold.`, '');
  }
  if (!(text as WellFormedString).isWellFormed()) {
    // Drivers encode text as UTF-8: PostgreSQL would store U+FFFD, SQLite invalid bytes that read back as U+FFFD.
    throw new SerializationError(`Cannot store the ${what}: the serializer produced a lone surrogate (broken UTF-16), which databases cannot store faithfully (it would read back as U+FFFD).`, '');
  }
  return text;
}
