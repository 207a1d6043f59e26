/**
 * events — what the runner tells an `onEvent` listener as a run moves: the same events it appends
 * to `cairn_events`, plus `step_replayed` for a completed step a resumed run does not execute again.
 */
import type { EventType } from '../storage/records';

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
