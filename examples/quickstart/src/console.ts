/**
 * console — one place that prints, with the time since this process started, so the progress of
 * the workflow reads as a timeline.
 */
import { performance } from 'node:perf_hooks';

export type Say = (line: string) => void;

/** Prints `line` prefixed with the seconds elapsed since the process started. */
export const say: Say = (line) => {
  const seconds = (performance.now() / 1000).toFixed(2).padStart(6);
  console.log(`${seconds}s  ${line}`);
};

/** Prints `line` as is (headings, the final summary). */
export const plain: Say = (line) => {
  console.log(line);
};
