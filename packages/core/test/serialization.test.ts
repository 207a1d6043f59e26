/**
 * Serialization: inputs and step outputs round-trip through a type-preserving serializer, values
 * that cannot round-trip are refused with the path inside the value, payloads have a size limit,
 * the stored text is safe for PostgreSQL text (no NUL, no lone surrogate), and anything thrown is
 * recorded faithfully with a readable message.
 */
import { DEFAULT_MAX_PAYLOAD_BYTES, devalueSerializer, encodeValue, type Serializer } from '../src/serialization/serializer';
import { asError, decodeError, describeThrown, encodeError, ThrownValueError, type StoredError } from '../src/serialization/thrown';
import { CairnError, NonRetryableError, PayloadTooLargeError, SerializationError, StepFailedError } from '../src/errors/errors';

const LIMIT = DEFAULT_MAX_PAYLOAD_BYTES;

/** True when `text` holds a UTF-16 surrogate that is not part of a valid pair. */
function hasLoneSurrogate(text: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** Encodes, checks the text is safe for a PostgreSQL text column, and decodes. */
function roundTrip<T>(value: T): T {
  const text = encodeValue(devalueSerializer, value, 'test value', LIMIT);
  expect(typeof text).toBe('string');
  expect(text.includes('\u0000')).toBe(false);
  expect(hasLoneSurrogate(text)).toBe(false);
  // Survives a UTF-8 round trip unchanged (what the database driver does to it).
  expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
  return devalueSerializer.deserialize(text) as T;
}

function serializationError(value: unknown, what = 'output of step charge'): SerializationError {
  let caught: unknown;
  try {
    encodeValue(devalueSerializer, value, what, LIMIT);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SerializationError);
  expect(caught).toBeInstanceOf(CairnError);
  const error = caught as SerializationError;
  expect(error.code).toBe('SERIALIZATION_FAILED');
  expect(error.message).toContain(what);
  return error;
}

describe('encodeValue / devalueSerializer: type-preserving round trip', () => {
  it('round-trips Date, BigInt, Map and Set', () => {
    const date = new Date('2024-02-29T12:34:56.789Z');
    const out = roundTrip({ date, big: 12345678901234567890n, map: new Map<unknown, unknown>([['a', 1], [2, 'b']]), set: new Set([1, 'x', 3n]) });
    expect(out.date).toBeInstanceOf(Date);
    expect(out.date.getTime()).toBe(date.getTime());
    expect(typeof out.big).toBe('bigint');
    expect(out.big).toBe(12345678901234567890n);
    expect(out.map).toBeInstanceOf(Map);
    expect([...out.map.entries()]).toEqual([['a', 1], [2, 'b']]);
    expect(out.set).toBeInstanceOf(Set);
    expect([...out.set]).toEqual([1, 'x', 3n]);
  });

  it('round-trips undefined at the top level and nested, keeping the key', () => {
    expect(roundTrip(undefined)).toBeUndefined();
    const out = roundTrip({ a: undefined, b: [undefined, 1] });
    expect(Object.keys(out)).toEqual(['a', 'b']);
    expect('a' in out).toBe(true);
    expect(out.a).toBeUndefined();
    expect(out.b).toHaveLength(2);
    expect(0 in out.b).toBe(true);
    expect(out.b[0]).toBeUndefined();
  });

  it('round-trips NaN, -0, Infinity and -Infinity', () => {
    const out = roundTrip({ nan: NaN, negZero: -0, inf: Infinity, negInf: -Infinity, top: -0 });
    expect(Number.isNaN(out.nan)).toBe(true);
    expect(Object.is(out.negZero, -0)).toBe(true);
    expect(out.inf).toBe(Infinity);
    expect(out.negInf).toBe(-Infinity);
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Number.isNaN(roundTrip(NaN))).toBe(true);
  });

  it('round-trips typed arrays', () => {
    const bytes = new Uint8Array([0, 1, 254, 255]);
    const floats = new Float64Array([1.5, -0, NaN, Number.MAX_VALUE]);
    const out = roundTrip({ bytes, floats });
    expect(out.bytes).toBeInstanceOf(Uint8Array);
    expect([...out.bytes]).toEqual([0, 1, 254, 255]);
    expect(out.floats).toBeInstanceOf(Float64Array);
    expect(out.floats).toHaveLength(4);
    expect(out.floats[0]).toBe(1.5);
    expect(Object.is(out.floats[1], -0)).toBe(true);
    expect(Number.isNaN(out.floats[2])).toBe(true);
    expect(out.floats[3]).toBe(Number.MAX_VALUE);
  });

  it('round-trips nested structures exactly', () => {
    const value = {
      order: { id: 'o-1', items: [{ sku: 'a', qty: 2, at: new Date(0) }, { sku: 'b', qty: 1, tags: new Set(['x']) }] },
      totals: new Map([['eur', { cents: 1999n }]]),
      flags: [true, false, null],
      nested: [[[1, [2, [3]]]]],
      nullProto: Object.assign(Object.create(null) as object, { k: 'v' }),
    };
    const out = roundTrip(value);
    expect(out).toEqual(value);
    expect(out.order.items[0]!.at).toBeInstanceOf(Date);
    expect(out.totals.get('eur')!.cents).toBe(1999n);
    expect(Object.getPrototypeOf(out.nullProto)).toBeNull();
  });

  it('keeps repeated references as one shared object', () => {
    const shared = { n: 1 };
    const out = roundTrip({ a: shared, b: shared, list: [shared, shared] });
    expect(out.a).toEqual({ n: 1 });
    expect(out.b).toBe(out.a);
    expect(out.list[0]).toBe(out.a);
    expect(out.list[1]).toBe(out.a);
  });

  it('keeps holes of sparse arrays (mildly and very sparse)', () => {
    const mild = [1, , 3];
    const very: unknown[] = [];
    very[1000] = 'end';
    very[3] = 'x';
    const out = roundTrip({ mild, very });
    expect(out.mild).toHaveLength(3);
    expect(1 in out.mild).toBe(false);
    expect(out.mild[0]).toBe(1);
    expect(out.mild[2]).toBe(3);
    expect(out.very).toHaveLength(1001);
    expect(Object.keys(out.very)).toEqual(['3', '1000']);
    expect(out.very[1000]).toBe('end');
  });

  it('escapes NUL so the stored text has none, and restores it exactly', () => {
    const value = { s: 'a\u0000b', ['k\u0000ey']: '\u0000', list: ['\u0000\u0000'] };
    const text = encodeValue(devalueSerializer, value, 'input', LIMIT);
    expect(text.includes('\u0000')).toBe(false);
    expect(roundTrip(value)).toEqual(value);
    expect(roundTrip('\u0000')).toBe('\u0000');
  });

  it('escapes lone surrogates so the stored text is well-formed, and restores them exactly', () => {
    const value = { high: 'x\ud800y', low: '\udc00', ['key\udbff']: 'ok', pair: '😀', both: '\udc00\ud800' };
    const text = encodeValue(devalueSerializer, value, 'input', LIMIT);
    expect(hasLoneSurrogate(text)).toBe(false);
    expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
    const out = roundTrip(value);
    expect(out).toEqual(value);
    expect(out.high).toBe('x\ud800y');
    expect(hasLoneSurrogate(out.high)).toBe(true);
    expect(roundTrip('\ud800')).toBe('\ud800');
  });

  it('round-trips other strings exactly (control characters, quotes, unicode)', () => {
    const s = 'line\nbreak\t"quote" \\ back </script> \u2028 é 中文 \u0001\u001f';
    expect(roundTrip(s)).toBe(s);
    expect(roundTrip({ [s]: s })).toEqual({ [s]: s });
  });

  it('round-trips a cyclic structure (devalue keeps the reference)', () => {
    const node: { name: string; self?: unknown } = { name: 'loop' };
    node.self = node;
    const out = roundTrip(node);
    expect(out.name).toBe('loop');
    expect(out.self).toBe(out);
  });

  it('returns the serializer text for an ordinary value, within the limit', () => {
    const text = encodeValue(devalueSerializer, { ok: true }, 'input', LIMIT);
    expect(devalueSerializer.deserialize(text)).toEqual({ ok: true });
  });
});

describe('encodeValue: values that cannot round-trip', () => {
  it('names the path of a nested function and the `what`', () => {
    const error = serializationError({ a: { b: [1, () => 2] } });
    expect(error.path).toBe('.a.b[1]');
    expect(error.message).toContain('.a.b[1]');
    expect(error.message).toContain('output of step charge');
    expect(error.message).toMatch(/function/i);
  });

  it('names the value itself when the top level is a function', () => {
    const error = serializationError(() => 1, 'input');
    expect(error.path).toBe('');
    expect(error.message).toContain('the value itself');
    expect(error.message).toContain('input');
  });

  it('refuses a symbol, with its path', () => {
    const error = serializationError({ list: ['ok', Symbol('s')] });
    expect(error.path).toBe('.list[1]');
    expect(error.message).toMatch(/symbol/i);
    expect(error.message).toContain('.list[1]');
  });

  it('refuses symbol keys', () => {
    const error = serializationError({ inner: { [Symbol('k')]: 1 } });
    expect(error.path).toBe('.inner');
    expect(error.message).toContain('.inner');
  });

  it('refuses a class instance with behaviour, with its path', () => {
    class Money {
      constructor(readonly cents: number) {}
      format(): string {
        return `${this.cents / 100}`;
      }
    }
    const error = serializationError({ total: new Money(100) });
    expect(error.path).toBe('.total');
    expect(error.message).toContain('.total');
    expect(error.message).toMatch(/non-POJO/);
  });

  it('refuses a function inside a Map, naming the key', () => {
    const error = serializationError({ m: new Map<string, unknown>([['ok', 1], ['handler', () => 0]]) });
    expect(error.path).toBe('.m.get("handler")');
    expect(error.message).toContain('.m.get("handler")');
  });

  it('quotes keys that are not identifiers', () => {
    const error = serializationError({ 'my key': [() => 0] });
    expect(error.path).toBe('["my key"][0]');
  });

  it('keeps the serializer error as the cause', () => {
    const error = serializationError({ f: () => 0 });
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('wraps a custom serializer failure, and refuses a non-string result', () => {
    const failing: Serializer = {
      serialize: () => {
        throw 'nope';
      },
      deserialize: () => undefined,
    };
    expect(() => encodeValue(failing, 1, 'input', LIMIT)).toThrow(SerializationError);
    expect(() => encodeValue(failing, 1, 'input', LIMIT)).toThrow(/Cannot store the input: nope at the value itself/);
    const notText: Serializer = { serialize: () => 42 as unknown as string, deserialize: () => undefined };
    expect(() => encodeValue(notText, 1, 'input', LIMIT)).toThrow(/returned number, not text/);
  });

  it('refuses serializer output that contains a raw NUL', () => {
    const raw: Serializer = { serialize: (v) => String(v), deserialize: (t) => t };
    const error = (() => {
      try {
        encodeValue(raw, 'a\u0000b', 'output of step s', LIMIT);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as Error).message).toMatch(/NUL/);
    expect((error as Error).message).toContain('output of step s');
  });
});

describe('encodeValue: payload limit', () => {
  it('throws PayloadTooLargeError over the limit, with bytes and limit', () => {
    const value = 'x'.repeat(100);
    const size = Buffer.byteLength(devalueSerializer.serialize(value), 'utf8');
    let caught: unknown;
    try {
      encodeValue(devalueSerializer, value, 'output of step big', size - 1);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PayloadTooLargeError);
    expect(caught).toBeInstanceOf(SerializationError);
    expect(caught).toBeInstanceOf(CairnError);
    const error = caught as PayloadTooLargeError;
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.name).toBe('PayloadTooLargeError');
    expect(error.bytes).toBe(size);
    expect(error.limit).toBe(size - 1);
    expect(error.message).toContain('output of step big');
    expect(error.message).toContain(String(size));
  });

  it('accepts a payload of exactly the limit', () => {
    const value = 'x'.repeat(100);
    const size = Buffer.byteLength(devalueSerializer.serialize(value), 'utf8');
    expect(encodeValue(devalueSerializer, value, 'input', size)).toBe(devalueSerializer.serialize(value));
  });

  it('counts UTF-8 bytes, not characters', () => {
    const value = 'é'.repeat(50); // 2 bytes each
    const text = devalueSerializer.serialize(value);
    expect(text.length).toBeLessThan(Buffer.byteLength(text, 'utf8'));
    expect(() => encodeValue(devalueSerializer, value, 'input', text.length)).toThrow(PayloadTooLargeError);
  });

  it('defaults to 1 MiB', () => {
    expect(DEFAULT_MAX_PAYLOAD_BYTES).toBe(1024 * 1024);
    expect(() => encodeValue(devalueSerializer, 'x'.repeat(DEFAULT_MAX_PAYLOAD_BYTES), 'input', DEFAULT_MAX_PAYLOAD_BYTES)).toThrow(PayloadTooLargeError);
  });
});

describe('describeThrown: anything thrown gets a readable record', () => {
  it("throw 'x' reads as 'x'", () => {
    expect(describeThrown('x')).toEqual({ name: 'NonErrorThrown', message: 'x' });
    expect(describeThrown('').message).toBe('an empty string was thrown');
  });

  it('throw null / undefined', () => {
    expect(describeThrown(null)).toEqual({ name: 'NonErrorThrown', message: 'null was thrown' });
    expect(describeThrown(undefined)).toEqual({ name: 'NonErrorThrown', message: 'undefined was thrown' });
  });

  it('numbers, booleans, bigints and symbols', () => {
    expect(describeThrown(42).message).toBe('number was thrown: 42');
    expect(describeThrown(false).message).toBe('boolean was thrown: false');
    expect(describeThrown(10n).message).toBe('bigint was thrown: 10');
    expect(describeThrown(Symbol('boom')).message).toBe('a symbol was thrown: boom');
  });

  it('an object whose message getter throws does not throw and reads well', () => {
    const nasty = {
      get message(): string {
        throw new Error('getter exploded');
      },
    };
    let record: StoredError | undefined;
    expect(() => {
      record = describeThrown(nasty);
    }).not.toThrow();
    expect(typeof record!.message).toBe('string');
    expect(record!.message.length).toBeGreaterThan(0);
    expect(record!.message).toMatch(/was thrown/);
    expect(record!.name).toBe('NonErrorThrown');
  });

  it('an Error subclass whose message/name/stack getters all throw', () => {
    class Hostile extends Error {
      override get message(): string {
        throw new Error('no message');
      }
      override get name(): string {
        throw new Error('no name');
      }
      override get stack(): string {
        throw new Error('no stack');
      }
    }
    const record = describeThrown(new Hostile());
    expect(record.message).toMatch(/was thrown/);
    expect(record.stack).toBeUndefined();
  });

  it('a revoked proxy does not make it throw', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    let record: StoredError | undefined;
    expect(() => {
      record = describeThrown(proxy);
    }).not.toThrow();
    expect(record!.message).toMatch(/was thrown/);
  });

  it('a plain object is shown as JSON', () => {
    const record = describeThrown({ status: 503, reason: 'down' });
    expect(record.message).toBe('non-Error object was thrown: {"status":503,"reason":"down"}');
    expect(record.name).toBe('NonErrorThrown');
    expect(describeThrown({}).message).toBe('object was thrown (no readable message)');
  });

  it('a cyclic plain object still gets a message', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeThrown(cyclic).message).toBe('object was thrown (no readable message)');
  });

  it('an Error keeps name, message and stack', () => {
    const error = new TypeError('bad type');
    const record = describeThrown(error);
    expect(record.name).toBe('TypeError');
    expect(record.message).toBe('bad type');
    expect(record.stack).toContain('bad type');
  });

  it('records the cause chain', () => {
    const root = new Error('socket closed');
    const middle = new Error('fetch failed', { cause: root });
    const top = new Error('charge failed', { cause: middle });
    const record = describeThrown(top);
    expect(record.message).toBe('charge failed');
    expect(record.cause?.message).toBe('fetch failed');
    expect(record.cause?.cause?.message).toBe('socket closed');
    expect(record.cause?.cause?.cause).toBeUndefined();
    expect(describeThrown(new Error('x', { cause: 'text cause' })).cause).toEqual({ name: 'NonErrorThrown', message: 'text cause' });
  });

  it('stops at a bounded depth on a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const record = describeThrown(a);
    let depth = 0;
    for (let r: StoredError | undefined = record; r; r = r.cause) depth += 1;
    expect(depth).toBeGreaterThan(1);
    expect(depth).toBeLessThanOrEqual(10);
  });

  it('a CairnError keeps its code, step, attempts and path', () => {
    const stepFailed = describeThrown(new StepFailedError('charge', 4, 'Step charge failed', { cause: new NonRetryableError('card declined') }));
    expect(stepFailed.name).toBe('StepFailedError');
    expect(stepFailed.code).toBe('STEP_FAILED');
    expect(stepFailed.step).toBe('charge');
    expect(stepFailed.attempts).toBe(4);
    expect(stepFailed.cause?.code).toBe('NON_RETRYABLE');
    expect(stepFailed.cause?.name).toBe('NonRetryableError');
    const ser = describeThrown(new SerializationError('bad', '.a[1]'));
    expect(ser.code).toBe('SERIALIZATION_FAILED');
    expect(ser.path).toBe('.a[1]');
  });

  it('clips very long messages and stacks', () => {
    const long = 'y'.repeat(100_000);
    const record = describeThrown(new Error(long));
    expect(record.message.length).toBeLessThan(10_000);
    expect(record.message.startsWith('y'.repeat(1000))).toBe(true);
    expect(record.message).toMatch(/truncated/);
    expect(record.stack!.length).toBeLessThan(10_000);
    expect(describeThrown(long).message.length).toBeLessThan(10_000);
  });

  it('is stable: the same throw gives the same record every time', () => {
    const thrown = { code: 'E_FOO', detail: [1, 2] };
    expect(describeThrown(thrown)).toEqual(describeThrown(thrown));
    expect(describeThrown(thrown).code).toBe('E_FOO');
  });
});

describe('asError / ThrownValueError', () => {
  it('returns Errors unchanged', () => {
    const error = new RangeError('r');
    expect(asError(error)).toBe(error);
  });

  it('wraps non-Errors, keeping the thrown value and the readable record', () => {
    const thrownObject = { why: 'because' };
    for (const thrown of ['x', null, undefined, 7, thrownObject]) {
      const wrapped = asError(thrown);
      expect(wrapped).toBeInstanceOf(Error);
      expect(wrapped).toBeInstanceOf(ThrownValueError);
      expect((wrapped as ThrownValueError).thrown).toBe(thrown);
      expect((wrapped as ThrownValueError).record).toEqual(describeThrown(thrown));
      expect(wrapped.message).toBe(describeThrown(thrown).message);
      expect(wrapped.name).toBe('NonErrorThrown');
    }
    expect(asError('x').message).toBe('x');
    expect(asError(null).message).toBe('null was thrown');
  });
});

describe('encodeError / decodeError', () => {
  it('round-trips an error record, cause included', () => {
    const error = new StepFailedError('s', 2, 'Step s failed', { cause: new Error('inner') });
    const text = encodeError(error);
    expect(typeof text).toBe('string');
    expect(decodeError(text)).toEqual(describeThrown(error));
  });

  it('stores a ThrownValueError as the original record, not as a wrapper', () => {
    const wrapped = asError('plain string');
    const decoded = decodeError(encodeError(wrapped));
    expect(decoded).toEqual({ name: 'NonErrorThrown', message: 'plain string' });
    expect(decoded.stack).toBeUndefined();
  });

  it('keeps NUL and lone surrogates out of the stored text, and restores them', () => {
    const error = new Error('bad \u0000 byte \ud800 here');
    const text = encodeError(error);
    expect(text.includes('\u0000')).toBe(false);
    expect(hasLoneSurrogate(text)).toBe(false);
    expect(decodeError(text).message).toBe('bad \u0000 byte \ud800 here');
  });

  it('never throws while encoding a hostile value', () => {
    const nasty = {
      get message(): string {
        throw new Error('x');
      },
    };
    expect(() => decodeError(encodeError(nasty))).not.toThrow();
    expect(decodeError(encodeError(nasty)).message).toMatch(/was thrown/);
  });
});
