/**
 * events — what the runner tells an `onEvent` listener as a run moves: the same events it appends
 * to `cairn_events`, plus `step_replayed` for a completed step a resumed run does not execute again.
 */
import type { EventType, EventWrite } from '../storage/records';

export interface CairnEvent {
  type: EventType | 'step_replayed';
  runId: string;
  workflow: string;
  trackingId: string;
  node?: string;
  attempt?: number;
  detail?: Record<string, unknown>;
  at: number;
}

export type EventListener = (event: CairnEvent) => void;

/** The listener's view of an event row written for a run. */
export function toCairnEvent(event: EventWrite, run: { runId: string; workflow: string; trackingId: string }, at: number): CairnEvent {
  return {
    type: event.type,
    ...run,
    node: event.node ?? undefined,
    attempt: event.attempt ?? undefined,
    detail: event.detail ? (JSON.parse(event.detail) as Record<string, unknown>) : undefined,
    at,
  };
}
