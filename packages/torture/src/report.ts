/** report — the human-readable summary of a torture run: what was injected, how often, what held. */
import type { TortureReport } from './driver';
import { CAUSES } from './verify';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export function formatReport(report: TortureReport): string {
  const f = report.verdict.figures;
  const i = report.injected;
  const lines = [
    `== ${report.backend}: ${report.runs} runs, ${report.workers} worker processes × concurrency ${report.concurrency}, lease ${report.leaseMs} ms, seed ${report.seed}`,
    `   duration ${seconds(report.durationMs)} (${seconds(report.chaosMs)} under chaos, ${(report.runs / (report.chaosMs / 1000)).toFixed(1)} runs/s)${report.stalled ? ' — STALLED' : ''}`,
    `   injected: ${i.kills} SIGKILLs (${i.workerProcesses} worker processes in all), ${i.restarts} PostgreSQL restarts${i.restartMs.length > 0 ? ` (${i.restartMs.join(', ')} ms)` : ''}, ${i.forcedLeaseExpiries} forced lease expiries (${f.forcedLeaseExpiriesTakenOver} led to a takeover), ${i.zombies} zombies`,
    `   runs: ${f.parentRuns} parents + ${f.childRuns} children; ${f.completed} completed, ${f.failed} failed, ${f.lost} lost`,
    `   step executions: ${f.executions} (${f.stored} stored, ${f.designedFailures} designed failures, ${f.reExecutions} re-executions: ${CAUSES.map((c) => `${f.reExecutionsByCause[c]} ${c}`).join(', ')}, ${f.reExecutionsByCause.unexplained} unexplained)`,
    `   takeovers: ${f.takeovers} (${CAUSES.map((c) => `${f.takeoversByCause[c]} ${c}`).join(', ')}, ${f.takeoversByCause.none} without an injected cause)`,
    `   overlapping executions: ${f.overlaps} pairs in ${f.runsWithOverlap} runs (${CAUSES.filter((c) => c !== 'kill').map((c) => `${f.overlapsByCause[c]} ${c}`).join(', ')}, ${f.overlapsByCause.unexplained} unexplained); ${f.runsWithoutForcedLeaseLoss} runs never lost a lease to anything but a kill`,
    `   audit: ${f.auditRows} row writes witnessed`,
    ...f.zombies.map((z) => `   zombie ${z.tag}: stopped ${z.stoppedMs} ms holding ${z.heldRuns} runs (${z.takenOver} taken over); after SIGCONT: ${z.fencedCommits} commits fenced, ${z.refusedHeartbeats} heartbeats refused, ${z.bodiesFinishedAfterResume} step bodies finished and discarded, ${z.acceptedStaleCommits + z.staleRowsWritten} writes accepted`),
    ...report.verdict.checks.map((c) => `   ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.ok ? '' : `\n${c.examples.map((e) => `          ${e}`).join('\n')}`}`),
    `   ${report.verdict.ok ? 'ALL INVARIANTS HELD' : 'INVARIANTS BROKEN'}${report.dir ? ` (ledgers kept in ${report.dir})` : ''}`,
  ];
  return lines.join('\n');
}
