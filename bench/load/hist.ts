/**
 * Latency histograms: HDR histograms (hdr-histogram-js) in microseconds,
 * 1 µs to 120 s at 3 significant digits. Driver processes send theirs to the
 * orchestrator compressed (base64), where they are added up.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 'packed' });
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Adds every encoded histogram into one. */
export function mergeHistograms(encoded: string[]): Histogram {
  const out = newHistogram();
  for (const e of encoded) {
    const h = hdr.decodeFromCompressedBase64(e, 'packed');
    out.add(h);
    h.destroy();
  }
  return out;
}

export interface LatencySummary {
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  count: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (p: number): number => h.getValueAtPercentile(p) / 1000;
  return { p50: ms(50), p90: ms(90), p99: ms(99), max: h.maxValue / 1000, count: h.totalCount };
}
