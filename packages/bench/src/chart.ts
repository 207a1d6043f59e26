/**
 * The chart: docs/benchmarks.svg, drawn from results/latest.json with Vega-Lite (compiled to a
 * Vega spec and rendered headlessly to SVG by Vega's `View.toSVG()`: no browser, no canvas, no
 * native build). Five panels: C=N throughput and C=1 latency per backend and system, drain
 * throughput by worker processes, start/claim latency empty vs 1M finished runs, and worker memory
 * with parked runs. `node dist/chart.js` redraws it from the current latest.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClaimLatencySet } from './claim-latency';
import type { BenchResults } from './results';

type VegaLite = typeof import('vega-lite', { with: { 'resolution-mode': 'import' } });
type Spec = Parameters<VegaLite['compile']>[0];
type Panel = Extract<Spec, { vconcat: unknown }>['vconcat'][number];

export const CHART_FILE = join(__dirname, '..', '..', '..', 'docs', 'benchmarks.svg');
export const RESULTS_FILE = join(__dirname, '..', 'results', 'latest.json');

const WIDTH = 300;
const HEIGHT = 190;
const MB = 2 ** 20;

interface Row {
  group: string;
  series: string;
  value: number;
}

interface BarOptions {
  /** A log y scale with bars drawn up from this base value, for values spanning decades. */
  log?: number;
  width?: number;
}

/** Grouped bars: `group` on x (in data order), one bar per `series` within it, the value printed above each bar. */
function groupedBars(title: string, axis: string, rows: Row[], seriesOrder: string[], options: BarOptions = {}): Panel {
  const encoding = {
    x: { field: 'group', type: 'nominal' as const, sort: null, title: null, axis: { labelAngle: 0, labelLimit: 120 } },
    xOffset: { field: 'series', type: 'nominal' as const, sort: seriesOrder },
    y: { field: 'value', type: 'quantitative' as const, title: options.log ? `${axis} (log scale)` : axis, ...(options.log ? { scale: { type: 'log' as const }, axis: { values: [0.1, 1, 10, 100, 1000] } } : {}) },
  };
  // On a log scale a bar needs an explicit base (zero is not on the scale).
  const base = options.log ? { y2: { datum: options.log } } : {};
  return {
    title,
    width: options.width ?? WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'bar' as const },
        encoding: { ...encoding, ...base, color: { field: 'series', type: 'nominal' as const, sort: seriesOrder, title: null, legend: seriesOrder.length > 1 ? { orient: 'top' as const, direction: 'horizontal' as const, labelLimit: 260 } : null } },
      },
      { mark: { type: 'text' as const, dy: -3, fontSize: 8, baseline: 'bottom' as const }, encoding: { ...encoding, text: { field: 'value', type: 'quantitative' as const, format: '.3~r' } } },
    ],
  };
}

function panels(r: BenchResults): Panel[] {
  const out: Panel[] = [];
  const systems = ['floor', 'cairn', 'dbos'];
  const concurrency = r.results.find((x) => x.system === 'cairn')?.cN.concurrency ?? 32;
  if (r.results.length > 0) {
    out.push(groupedBars(`Throughput at C=${concurrency} (higher is better)`, 'runs/s', r.results.map((x) => ({ group: x.backend, series: x.system, value: x.cN.runsPerSec })), systems));
    out.push(groupedBars('Latency at C=1, p50 (lower is better)', 'ms per run', r.results.map((x) => ({ group: x.backend, series: x.system, value: x.c1.p50Ms })), systems));
  }
  if (r.workerScaling) {
    const w = r.workerScaling;
    out.push(groupedBars(`Worker processes on one PostgreSQL, drain rate`, 'runs/s', w.points.map((p) => ({ group: `${p.workers} worker${p.workers === 1 ? '' : 's'}`, series: 'cairn', value: p.runsPerSec })), ['cairn']));
  }
  if (r.claimLatency) {
    const rows: Row[] = [];
    const series: string[] = ['empty'];
    for (const c of r.claimLatency) {
      const size = `${(c.fill.runs / 1e6).toLocaleString('en')}M finished runs`;
      const sets: [string, ClaimLatencySet | undefined][] = [
        [size, c.full],
        [`${(c.fill.runs / 1e6).toLocaleString('en')}M, SQLite after ANALYZE`, c.fullAnalyzed],
      ];
      for (const key of ['start', 'claim', 'idlePoll', 'pickup'] as const) {
        const e = c.empty[key];
        if (!e) continue;
        const group = `${c.backend === 'postgres' ? 'pg' : c.backend} ${key === 'idlePoll' ? 'idle poll' : key}`;
        rows.push({ group, series: 'empty', value: e.p50Ms });
        for (const [label, set] of sets) {
          const f = set?.[key];
          if (!f) continue;
          rows.push({ group, series: label, value: f.p50Ms });
          if (!series.includes(label)) series.push(label);
        }
      }
    }
    out.push(groupedBars('Start / claim latency p50, empty vs full tables (lower is better)', 'ms', rows, series, { log: 0.05, width: 2 * WIDTH + 60 }));
  }
  if (r.parkedMemory) {
    const m = r.parkedMemory;
    const none = 'none parked';
    const parked = `${m.parked.toLocaleString('en')} parked`;
    out.push(
      groupedBars(
        `Worker memory after GC, ${m.parked.toLocaleString('en')} parked runs vs none`,
        'MB',
        [
          { group: 'RSS', series: none, value: m.none.rssBytes / MB },
          { group: 'RSS', series: parked, value: m.withParked.rssBytes / MB },
          { group: 'heap used', series: none, value: m.none.heapUsedBytes / MB },
          { group: 'heap used', series: parked, value: m.withParked.heapUsedBytes / MB },
        ],
        [none, parked],
      ),
    );
  }
  return out;
}

/** The chart as an SVG document. */
export async function renderChart(r: BenchResults): Promise<string> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const all = panels(r);
  const rows: Panel[] = [];
  // Each panel keeps its own scales and legend.
  const resolve = { scale: { color: 'independent' as const, xOffset: 'independent' as const, y: 'independent' as const, x: 'independent' as const }, legend: { color: 'independent' as const } };
  for (let i = 0; i < all.length; i += 3) rows.push({ hconcat: all.slice(i, i + 3), resolve });
  const pg = r.versions.postgres ? `, PostgreSQL ${r.versions.postgres}` : '';
  const dbos = r.versions.dbos ? `, DBOS ${r.versions.dbos}` : '';
  const spec: Spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Cairn benchmarks: workload W (3 sequential no-op steps)',
      subtitle: [
        `${r.machine.nproc} CPUs (${r.machine.cpu}), Node ${r.versions.node}${pg}${dbos}`,
        `cairn ${r.versions.cairn ?? '?'}; packages/bench/results/latest.json, ${r.finishedAt.slice(0, 16).replace('T', ' ')} UTC`,
      ],
      anchor: 'start',
      offset: 12,
    },
    vconcat: rows,
    resolve: { scale: { color: 'independent', xOffset: 'independent', y: 'independent', x: 'independent' }, legend: { color: 'independent' } },
    config: { font: 'sans-serif', view: { stroke: null }, axis: { labelFontSize: 9, titleFontSize: 10 }, legend: { labelFontSize: 9, labelLimit: 200 }, title: { fontSize: 11 } },
  };
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export async function writeChart(r: BenchResults, file = CHART_FILE): Promise<string> {
  writeFileSync(file, `${await renderChart(r)}\n`);
  return file;
}

if (require.main === module) {
  const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as BenchResults;
  writeChart(results).then(
    (file) => process.stderr.write(`chart: ${file}\n`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
