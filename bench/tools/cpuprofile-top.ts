/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, and the files
 * (with their callees' self time counted where it lands) that take it.
 * Usage: npx tsx bench/tools/cpuprofile-top.ts <file.cpuprofile> [top=25] [function to break down by caller chain]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const place = (url: string): string => {
  if (!url) return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith('/') ? relative(process.cwd(), path) : path;
};

export const summarise = (file: string, top: number, breakDown?: string): string => {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = profile.endTime - profile.startTime;
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'}  ${place(url)}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const where = url ? place(url).split('/').slice(0, url.includes('node_modules') ? 1 : 3).join('/') : functionName || '(native)';
    files.set(where, (files.get(where) ?? 0) + us);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callers = new Map<string, number>();
  if (breakDown) {
    for (const [id, us] of selfUs) {
      if (byId.get(id)!.callFrame.functionName !== breakDown) continue;
      const chain: string[] = [];
      for (let p = parent.get(id); p !== undefined && chain.length < 4; p = parent.get(p)) {
        const f = byId.get(p)!.callFrame;
        if (!f.url.includes('node_modules') && f.functionName) chain.push(`${f.functionName} (${place(f.url).split('/').pop()})`);
      }
      const key = chain.join(' < ') || '(unknown)';
      callers.set(key, (callers.get(key) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${file}: ${(total / 1e6).toFixed(2)} s profiled`, 'self time by function:'];
  for (const [k, us] of [...fns].sort(([, a], [, b]) => b - a).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push('self time by package / directory:');
  for (const [k, us] of [...files].sort(([, a], [, b]) => b - a).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  if (breakDown) {
    lines.push(`self time of ${breakDown} by caller chain:`);
    for (const [k, us] of [...callers].sort(([, a], [, b]) => b - a).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  }
  return `${lines.join('\n')}\n`;
};

if (require.main === module) {
  const [file, top = '25', breakDown] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: cpuprofile-top.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(summarise(file, Number(top), breakDown));
}
