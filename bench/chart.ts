/**
 * docs/benchmarks.svg, written by hand (no browser, no chart library): one row per scenario, throughput on the left,
 * p99 latency or time on the right, Crest against the baselines of the same run. Dashed lines mark absolute targets.
 */
import { fmt, type MetricResult, type ScenarioResult } from './result';

const WIDTH = 980;
const PANEL_W = 470;
const LABEL_W = 215;
const BAR_MAX = 170;
const BAR_H = 15;
const ROW_GAP = 5;
const TITLE_H = 44;
const PANEL_TITLE_H = 18;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const short = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

interface Panel {
  readonly title: string;
  readonly bars: readonly MetricResult[];
  readonly targets: ReadonlyArray<{ value: number; label: string }>;
  /** Log scale (latencies spread over several orders of magnitude). */
  readonly log?: boolean;
}

const panelHeight = (p: Panel): number => PANEL_TITLE_H + Math.max(1, p.bars.length) * (BAR_H + ROW_GAP) + 6 + (p.targets.length > 0 ? 12 : 0);

/** Maps a value to a bar length: linear from 0, or log10 from a floor of 0.1. */
const scaleFor = (p: Panel, max: number): ((v: number) => number) => {
  if (!p.log) return (v) => (Math.max(0, v) / max) * BAR_MAX;
  const lo = 0.1;
  const span = Math.log10(Math.max(max, lo * 10) / lo);
  return (v) => (Math.log10(Math.max(v, lo) / lo) / span) * BAR_MAX;
};

const renderPanel = (p: Panel, x: number, y: number): string => {
  const out: string[] = [`<text x="${x}" y="${y + 12}" class="panel">${esc(p.title)}</text>`];
  if (p.bars.length === 0) {
    out.push(`<text x="${x}" y="${y + PANEL_TITLE_H + 12}" class="skip">no figures of this kind</text>`);
    return out.join('');
  }
  const values = p.bars.map((b) => b.stats?.max ?? 0);
  const scale = scaleFor(p, Math.max(...values, ...p.targets.map((t) => t.value), 1e-9));
  const barX = x + LABEL_W;
  p.bars.forEach((b, i) => {
    const by = y + PANEL_TITLE_H + i * (BAR_H + ROW_GAP);
    out.push(`<text x="${barX - 6}" y="${by + BAR_H - 3}" class="label" text-anchor="end">${esc(short(b.label, 38))}</text>`);
    if (!b.stats) {
      out.push(`<text x="${barX}" y="${by + BAR_H - 3}" class="skip">skipped: ${esc(short(b.skipped ?? '', 44))}</text>`);
      return;
    }
    const w = Math.max(1.5, scale(b.stats.median));
    const minX = barX + scale(b.stats.min);
    const maxX = barX + scale(b.stats.max);
    out.push(`<rect x="${barX}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" class="${b.role}"/>`);
    // min-max whisker
    out.push(`<line x1="${minX.toFixed(1)}" x2="${maxX.toFixed(1)}" y1="${by + BAR_H / 2}" y2="${by + BAR_H / 2}" class="whisker"/>`);
    out.push(`<text x="${(Math.max(barX + w, maxX) + 5).toFixed(1)}" y="${by + BAR_H - 3}" class="value">${esc(fmt(b.stats.median, b.unit))}</text>`);
  });
  const bottom = y + PANEL_TITLE_H + p.bars.length * (BAR_H + ROW_GAP) - ROW_GAP;
  p.targets.forEach((t, i) => {
    const tx = barX + scale(t.value);
    out.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${y + PANEL_TITLE_H - 3}" y2="${bottom + 3}" class="target"/>`);
    if (i === 0) out.push(`<text x="${tx.toFixed(1)}" y="${bottom + 13}" class="tlabel" text-anchor="middle">${esc(t.label)}</text>`);
  });
  return out.join('');
};

const panelsOf = (r: ScenarioResult): [Panel, Panel] => {
  const targetsFor = (bars: readonly MetricResult[]) =>
    r.targets
      .filter((t) => bars.some((b) => b.id === t.on && b.unit === t.unit))
      .map((t) => ({ value: t.threshold, label: `target ${t.op} ${fmt(t.threshold, t.unit)}` }));
  const throughput = r.metrics.filter((m) => m.chart === 'throughput');
  const latency = r.metrics.filter((m) => m.chart === 'latency');
  const time = r.metrics.filter((m) => m.chart === 'time');
  const right =
    latency.length > 0 ? { title: 'p99 latency (ms, log scale, lower is better)', bars: latency, log: true } : { title: 'time (s, lower is better)', bars: time };
  return [
    { title: 'throughput (median; whisker = min..max)', bars: throughput, targets: targetsFor(throughput) },
    { ...right, targets: targetsFor(right.bars) },
  ];
};

export const renderChart = (results: readonly ScenarioResult[]): string => {
  const body: string[] = [];
  let y = 40;
  for (const r of results) {
    const [left, right] = panelsOf(r);
    const met = r.targets.filter((t) => t.status === 'MET').length;
    const judged = r.targets.filter((t) => t.status !== 'SKIPPED').length;
    body.push(`<line x1="10" x2="${WIDTH - 10}" y1="${y - 6}" y2="${y - 6}" class="rule"/>`);
    body.push(`<text x="14" y="${y + 12}" class="scenario">${esc(r.scenario)}</text>`);
    body.push(
      `<text x="14" y="${y + 28}" class="sub">${esc(`${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.warmup}+${r.rounds} rounds, targets ${met}/${judged} MET`)}${r.targets
        .filter((t) => t.status === 'MISSED')
        .slice(0, 1)
        .map((t) => esc(` - missed: ${short(t.label, 60)}`))
        .join('')}</text>`,
    );
    const top = y + TITLE_H;
    body.push(renderPanel(left, 14, top));
    body.push(renderPanel(right, 14 + PANEL_W + 20, top));
    y = top + Math.max(panelHeight(left), panelHeight(right)) + 16;
  }
  if (results.length === 0) {
    body.push(`<text x="14" y="60" class="sub">No results yet: npm run bench -- all</text>`);
    y = 90;
  }
  const height = y + 24;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">
<style>
.title{font-size:17px;font-weight:bold;fill:#111}
.scenario{font-size:14px;font-weight:bold;fill:#111}
.sub{font-size:11px;fill:#555}
.panel{font-size:11px;font-weight:bold;fill:#333}
.label{font-size:11px;fill:#222}
.value{font-size:11px;fill:#111}
.skip{font-size:11px;fill:#a33;font-style:italic}
.tlabel{font-size:9px;fill:#b45309}
.crest{fill:#2563eb}
.baseline{fill:#9ca3af}
.whisker{stroke:#111;stroke-width:1}
.target{stroke:#d97706;stroke-width:1.5;stroke-dasharray:4 3}
.rule{stroke:#e5e7eb;stroke-width:1}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="14" y="24" class="title">Crest benchmarks: latest run per scenario (blue: Crest, grey: same-run baselines)</text>
${body.join('\n')}
<text x="14" y="${height - 8}" class="sub">Generated by bench/harness.ts from bench/results/*.json; see docs/benchmarks.md for conditions and targets.</text>
</svg>
`;
};
