/**
 * Per-client, per-topic and per-address traces: every protocol event of the matching
 * clients or topics as JSON lines in a file, with a size cap and an end time (EMQX's
 * `trace`). Untraced traffic pays one field check per event: a channel carries the traces
 * that match it, set at CONNECT and when a trace starts or stops.
 *
 * Files go only to the node's trace directory (`<data_dir>/trace/<name>.log`), named after
 * the trace (a validated name, no path), at most `MAX_TRACES` of them, each capped in
 * bytes: whoever may start a trace (an API key, a peer) cannot write anywhere else or fill
 * the disk with more than `MAX_TRACES` × the cap.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { topicMatches } from '@vireo/mqtt';

export type TraceType = 'clientid' | 'topic' | 'ip_address';

/** EMQX's limit on traces per node (running or stopped). */
export const MAX_TRACES = 30;
/** A trace name: also its file's name, so nothing that could leave the directory. */
export const TRACE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;
export const MAX_TRACE_BYTES = 1024 ** 3;

export interface TraceSpec {
  name: string;
  type: TraceType;
  /** The client id, topic filter or IP address traced. */
  filter: string;
  /** `<trace dir>/<name>.log`, set by the tracer. */
  file: string;
  /** ms since the epoch. */
  endAt: number;
  maxBytes: number;
}

export interface TraceInfo extends TraceSpec {
  startedAt: number;
  bytes: number;
  status: 'running' | 'stopped';
  stopReason: string | undefined;
}

const PAYLOAD_PREVIEW = 256;

export class Trace {
  private readonly out: WriteStream;
  readonly startedAt = Date.now();
  bytes = 0;
  status: 'running' | 'stopped' = 'running';
  stopReason: string | undefined;

  constructor(
    readonly spec: TraceSpec,
    private readonly node: string,
  ) {
    this.out = createWriteStream(spec.file, { flags: 'a' });
    this.out.on('error', () => this.stop('file_error'));
  }

  /** Writes one event; stops the trace at its end time or size cap. */
  write(event: string, clientid: string | undefined, fields: Record<string, unknown>): void {
    if (this.status !== 'running') return;
    const now = Date.now();
    if (now >= this.spec.endAt) return this.stop('end_time');
    const line = JSON.stringify({ time: new Date(now).toISOString(), node: this.node, event, clientid, ...fields }) + '\n';
    // bytes as written (UTF-8), not UTF-16 code units
    const size = Buffer.byteLength(line);
    if (this.bytes + size > this.spec.maxBytes) return this.stop('max_bytes');
    this.bytes += size;
    this.out.write(line);
  }

  matchesClient(clientId: string, ip: string): boolean {
    return (this.spec.type === 'clientid' && this.spec.filter === clientId) || (this.spec.type === 'ip_address' && this.spec.filter === ip);
  }

  matchesTopic(topic: string): boolean {
    return this.spec.type === 'topic' && topicMatches(this.spec.filter, topic);
  }

  stop(reason: string): void {
    if (this.status === 'stopped') return;
    this.status = 'stopped';
    this.stopReason = reason;
    this.out.end();
  }

  info(): TraceInfo {
    return { ...this.spec, startedAt: this.startedAt, bytes: this.bytes, status: this.status, stopReason: this.stopReason };
  }
}

/** Payload preview and size, for publish events. */
export function payloadFields(payload: Buffer): { payload_size: number; payload: string } {
  const head = payload.subarray(0, PAYLOAD_PREVIEW).toString('utf8');
  return { payload_size: payload.length, payload: payload.length > PAYLOAD_PREVIEW ? `${head}…` : head };
}

export class Tracer {
  private readonly traces = new Map<string, Trace>();
  /** Running topic traces: publish paths check this number before anything else. */
  topicTraces = 0;

  constructor(
    private readonly node: string,
    /** The only directory trace files go to (a node's: `<data_dir>/trace`). */
    readonly dir: string = path.resolve('data', 'trace'),
  ) {}

  /** Where trace `name`'s file is. */
  fileOf(name: string): string {
    return path.join(this.dir, `${name}.log`);
  }

  /**
   * Starts a trace writing to `fileOf(name)`. `spec.file`, when given (a trace kept in the
   * store), must be that file. Throws a `TraceError` on a bad name, file, cap or count.
   */
  start(spec: Omit<TraceSpec, 'file'> & { file?: string }): Trace {
    if (!TRACE_NAME.test(spec.name) || spec.name === '.' || spec.name === '..') throw new TraceError('invalid', `name: 1 to 64 letters, digits, _ - . (not starting with .)`);
    const file = this.fileOf(spec.name);
    if (spec.file !== undefined && path.resolve(spec.file) !== file) throw new TraceError('invalid', `file: traces are written to ${file}, nowhere else`);
    if (!Number.isInteger(spec.maxBytes) || spec.maxBytes < 1 || spec.maxBytes > MAX_TRACE_BYTES) throw new TraceError('invalid', `max_bytes: 1 to ${MAX_TRACE_BYTES}`);
    if (this.traces.get(spec.name)?.status === 'running') throw new TraceError('conflict', `trace ${spec.name} is already running`);
    if (!this.traces.has(spec.name) && this.traces.size >= MAX_TRACES) throw new TraceError('limit', `at most ${MAX_TRACES} traces per node: delete one first`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const t = new Trace({ ...spec, file }, this.node);
    this.traces.set(spec.name, t);
    this.recount();
    return t;
  }

  stop(name: string): boolean {
    const t = this.traces.get(name);
    if (!t) return false;
    t.stop('stopped');
    this.recount();
    return true;
  }

  delete(name: string): boolean {
    this.stop(name);
    return this.traces.delete(name);
  }

  list(): TraceInfo[] {
    return [...this.traces.values()].map((t) => t.info());
  }

  /** Running client/address traces matching one client, or undefined (the common case). */
  forClient(clientId: string, ip: string): Trace[] | undefined {
    let out: Trace[] | undefined;
    for (const t of this.traces.values()) if (t.status === 'running' && t.matchesClient(clientId, ip)) (out ??= []).push(t);
    return out;
  }

  /** Writes a topic event to every running topic trace whose filter matches. */
  topicEvent(topic: string, event: string, clientid: string | undefined, fields: Record<string, unknown>): void {
    for (const t of this.traces.values()) if (t.status === 'running' && t.matchesTopic(topic)) t.write(event, clientid, fields);
    this.recount();
  }

  closeAll(): void {
    for (const t of this.traces.values()) t.stop('node_stopped');
    this.topicTraces = 0;
  }

  private recount(): void {
    let n = 0;
    for (const t of this.traces.values()) if (t.status === 'running' && t.spec.type === 'topic') n++;
    this.topicTraces = n;
  }
}

/** Why a trace could not start: `invalid` (bad argument), `conflict` (running), `limit` (too many). */
export class TraceError extends Error {
  constructor(
    readonly kind: 'invalid' | 'conflict' | 'limit',
    message: string,
  ) {
    super(message);
    this.name = 'TraceError';
  }
}
