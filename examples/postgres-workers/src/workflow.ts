/**
 * The workflow every worker runs: a four-step image pipeline with fake work (20–50 ms a step).
 * Each step returns the pid of the worker process that executed it, and the last step's result
 * carries all four, so the producer can tell who did what. Each step also tells the parent
 * process (over the fork IPC channel) when it starts, which is how the producer sees a killed
 * worker's runs being taken over.
 */
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Step, Workflow, type StepContext } from '@cairn/core';

export interface ImageJob {
  imageId: number;
  url: string;
}

/** Sent to the producer when a step starts executing in a worker. */
export interface StepStarted {
  type: 'step-started';
  pid: number;
  trackingId: string;
  step: string;
  attempt: number;
}

export interface Published {
  url: string;
  /** Which worker process executed each step. */
  executedBy: { fetch: number; resize: number; watermark: number; publish: number };
}

type Ctx = StepContext<ImageJob, ImagePipeline>;

/** Fake work; stops at once if Cairn aborts the step (timeout, lost lease, shutdown). */
async function work(ctx: Ctx): Promise<number> {
  process.send?.({ type: 'step-started', pid: process.pid, trackingId: ctx.trackingId, step: ctx.step, attempt: ctx.attempt } satisfies StepStarted);
  await sleep(20 + Math.floor(Math.random() * 31), undefined, { signal: ctx.signal });
  return process.pid;
}

@Workflow({ name: 'image-pipeline', version: 1 })
export class ImagePipeline {
  @Step({ retries: 3, timeout: '10s' })
  async fetch(ctx: Ctx) {
    const pid = await work(ctx);
    return { pid, bytes: 100_000 + ctx.input.imageId };
  }

  @Step({ retries: 3, timeout: '10s' })
  async resize(ctx: Ctx) {
    const pid = await work(ctx);
    return { pid, width: 1024, height: Math.round((1024 * ctx.results.fetch.bytes) / 150_000) };
  }

  @Step({ retries: 3, timeout: '10s' })
  async watermark(ctx: Ctx) {
    const pid = await work(ctx);
    return { pid, text: `© cairn ${ctx.results.resize.width}px` };
  }

  @Step({ retries: 3, timeout: '10s' })
  async publish(ctx: Ctx): Promise<Published> {
    const pid = await work(ctx);
    const { fetch, resize, watermark } = ctx.results;
    return {
      url: `https://cdn.example.com/images/${ctx.input.imageId}.jpg`,
      executedBy: { fetch: fetch.pid, resize: resize.pid, watermark: watermark.pid, publish: pid },
    };
  }
}
