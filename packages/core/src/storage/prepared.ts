/**
 * prepared — statements Kysely builds and compiles once, then executes many times with new
 * values. Building and compiling a query costs more than running it on SQLite, so the statements
 * of the hot path are built once with named markers in place of values; each execution binds
 * values to the compiled SQL's parameters by name. Values the builder wrote itself (constants)
 * stay as they are.
 */
import { CompiledQuery, type Compilable } from 'kysely';

type Slot<V> = { name: keyof V } | { constant: unknown };

export class PreparedQuery<V extends object> {
  private compiled: { sql: string; slots: Slot<V>[] } | undefined;

  /** `build` receives `bind(name)`, which stands for `values[name]` wherever a value goes. */
  constructor(private readonly build: (bind: <K extends keyof V>(name: K) => V[K]) => Compilable) {}

  /** The compiled statement with `values` bound, ready for `executeQuery`. */
  with(values: V): CompiledQuery {
    const { sql, slots } = (this.compiled ??= this.compile());
    return CompiledQuery.raw(
      sql,
      slots.map((slot) => ('name' in slot ? values[slot.name] : slot.constant)),
    );
  }

  private compile(): { sql: string; slots: Slot<V>[] } {
    const markers = new Map<unknown, keyof V>();
    const bind = <K extends keyof V>(name: K): V[K] => {
      const marker = Object.freeze({ preparedParameter: name });
      markers.set(marker, name);
      return marker as V[K];
    };
    const query = this.build(bind).compile();
    return {
      sql: query.sql,
      slots: query.parameters.map((parameter) => {
        const name = markers.get(parameter);
        return name === undefined ? { constant: parameter } : { name };
      }),
    };
  }
}
