/**
 * crash — the `--crash-at <step>` switch. A step calls `crashPoint(ctx)` right after its side
 * effect and before returning, i.e. before Cairn can record that the step finished: the worst
 * moment to die. The process then SIGKILLs itself (no cleanup, no exit handlers, the lease stays
 * held), exactly like `kill -9`, an OOM kill or a pulled plug.
 */
import type { Say } from './console';

let target: string | undefined;
let print: Say = () => undefined;
let fired = false;

export function setCrashAt(step: string | undefined, say: Say): void {
  target = step;
  print = say;
}

/** True when `--crash-at` named a step that this process then never ran (it was already done). */
export function crashPending(): string | undefined {
  return target !== undefined && !fired ? target : undefined;
}

/** `ctx` is the step's StepContext (only its `step` name is needed). */
export async function crashPoint(ctx: { readonly step: string }, what = 'its work is done'): Promise<void> {
  if (ctx.step !== target) return;
  fired = true;
  print(`  💥 --crash-at ${ctx.step}: ${what}; SIGKILLing this process (pid ${process.pid}) before Cairn records the step`);
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is delivered at once; never let the step return in the meantime.
  await new Promise<never>(() => undefined);
}
