/** Messages between run.ts and its driver processes (over the IPC channel). */

export type DriverCmd =
  | { cmd: 'init'; url: string; secret: string }
  | { cmd: 'connect'; users: string[]; addrs: string[]; concurrency: number }
  | { cmd: 'load'; pairs: Array<[string, string]>; mode: 'window' | 'rate'; window: number; rate: number }
  | { cmd: 'mark' }
  | { cmd: 'snap' }
  | { cmd: 'halt'; timeoutMs: number }
  | { cmd: 'group_create'; owner: string; members: string[] }
  | { cmd: 'drain'; sender: string; receiver: string; count: number }
  | { cmd: 'close_all' }
  | { cmd: 'exit' };

export interface DriverReply {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export interface Snapshot extends DriverReply {
  /** performance.now() of the driver when taken. */
  at: number;
  /** `msg` frames received since the last mark. */
  delivered: number;
  /** `sent` answers received. */
  sent: number;
  receipts: number;
  errors: number;
  outstanding: number;
  errorCodes: Record<string, number>;
  firstErrors: string[];
  /** Compressed HDR histograms (µs): end-to-end per `msg`, and send → `sent`. */
  e2e: string;
  sentLat: string;
}
