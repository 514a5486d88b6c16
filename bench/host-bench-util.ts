// Small helpers shared by the host-tools benches (bench:reconcile, bench:tap, bench:personalize).

export interface Stats {
  n: number;
  medianMs: number;
  p90Ms: number;
  meanMs: number;
}

export function stats(t: number[]): Stats {
  const s = [...t].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, medianMs: +q(0.5).toFixed(3), p90Ms: +q(0.9).toFixed(3), meanMs: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3) };
}

export function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`bench: ${name} must be a positive integer`);
  return v;
}
