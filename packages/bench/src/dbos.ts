/**
 * DBOS Transact (@dbos-inc/dbos-sdk) running workload W, as its documentation recommends: a
 * function registered with `DBOS.registerWorkflow` whose three steps are `DBOS.runStep` calls,
 * configured with `DBOS.setConfig({ name, systemDatabaseUrl })`, launched with `DBOS.launch()`, and
 * each run started with `DBOS.startWorkflow(wf, { workflowID })` and awaited with `getResult()`.
 * DBOS is a process-wide singleton: each phase launches it and shuts it down.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import type { System } from './measure';
import { STEPS, stepOutput } from './workload';

type StepResult = ReturnType<typeof stepOutput>;

/** The same workflow as WorkloadW: three sequential no-op async steps, each returning `{ step, ok }`. */
async function workloadW(input: { n: number }): Promise<StepResult> {
  void input;
  let last: StepResult | undefined;
  for (let i = 0; i < STEPS.length; i++) last = await DBOS.runStep(async () => stepOutput(i + 1), { name: STEPS[i]! });
  return last!;
}

let registered: ((input: { n: number }) => Promise<StepResult>) | undefined;

/** Registers the workflow once per process (DBOS allows registration only before launch). */
function workflow(): (input: { n: number }) => Promise<StepResult> {
  registered ??= DBOS.registerWorkflow(workloadW, { name: 'bench-w' });
  return registered;
}

/** DBOS with its system database at `url` (its own database on the bench's server). Pool size: DBOS's default, 10. */
export function dbosSystem(url: string): System {
  const wf = workflow();
  return {
    async open() {
      DBOS.setConfig({ name: 'cairn-bench', systemDatabaseUrl: url, applicationVersion: 'bench-1', logLevel: 'error' });
      await DBOS.launch();
      return {
        run: async (trackingId, input) => {
          const handle = await DBOS.startWorkflow(wf, { workflowID: trackingId })(input as { n: number });
          return handle.getResult();
        },
        close: () => DBOS.shutdown(),
      };
    },
  };
}

/** Launches and shuts DBOS down once, so its migrations are not counted in a measured phase. */
export async function migrateDbos(url: string): Promise<void> {
  const opened = await dbosSystem(url).open();
  await opened.close();
}
