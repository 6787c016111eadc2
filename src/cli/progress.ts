/** A progress bar on stderr for long commands, shown only on a terminal: piped or redirected, it writes nothing. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, payload?: Record<string, unknown>): void;
  stop(): void;
}

/** A bar with `format` (cli-progress tokens) counting up to `total`; 0 when the total is unknown. */
export function progress(format: string, total: number, payload: Record<string, unknown> = {}): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, fps: 5, clearOnComplete: true, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, payload);
  return { update: (value, extra) => bar.update(value, extra), stop: () => bar.stop() };
}

/** "1.2 s", "45 ms". */
export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Items per second, rounded. */
export function rate(count: number, ms: number): string {
  return `${Math.round((count / Math.max(ms, 1)) * 1000)}`;
}
