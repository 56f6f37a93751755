/**
 * Redis: one ioredis client per connector, and actions whose command is a list of `${field}`
 * templates (`[HSET, "dev:${clientid}", temp, "${t}"]`), each argument sent as its own
 * value (never a command line to split). A batch goes as one pipeline. While Redis is away
 * nothing waits in ioredis: the offline queue is off and the sink's buffer holds the
 * commands, so the bound in bytes is the only one.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Output } from '../sql/compile.js';
import { compileTemplate, renderText, type Template } from '../template.js';
import type { ActionStatus } from './action.js';
import { Sink, type Connector, type ItemResult, type SinkOptions } from './sink.js';

export interface RedisConnectorOptions {
  name: string;
  host: string;
  port: number;
  database: number;
  username: string | undefined;
  password: string | undefined;
  /** Longest wait between reconnection attempts (ms). */
  maxBackoff: number;
}

export class RedisConnector implements Connector {
  readonly name: string;
  readonly client: Redis;
  status: ActionStatus = 'connecting';

  constructor(o: RedisConnectorOptions, logger: Logger) {
    this.name = o.name;
    this.client = new Redis({
      host: o.host,
      port: o.port,
      db: o.database,
      username: o.username,
      password: o.password,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(o.maxBackoff, 100 * 2 ** Math.min(times, 10)),
    });
    const tag = { connector: `redis:${o.name}` };
    this.client.on('ready', () => {
      if (this.status !== 'connected') logger.info(tag, 'Connector connected');
      this.status = 'connected';
    });
    this.client.on('error', (err: Error) => {
      if (this.status === 'connected') logger.warn({ ...tag, err: err.message }, 'Connector disconnected');
      this.status = 'disconnected';
    });
    this.client.on('close', () => {
      if (this.status === 'connected') logger.warn(tag, 'Connector disconnected');
      this.status = 'disconnected';
    });
    this.client.on('reconnecting', () => {
      if (this.status !== 'connected') this.status = 'connecting';
    });
  }

  async probe(): Promise<void> {
    try {
      await this.client.ping();
      this.status = 'connected';
    } catch {
      if (this.status === 'connected') this.status = 'disconnected';
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

/** A reply error is about the command (wrong type, …): that output fails. Anything else is the connection. */
const isReplyError = (err: Error) => err.name === 'ReplyError';

export class RedisSink extends Sink<string[]> {
  private readonly template: Template[];

  constructor(
    id: string,
    private readonly redis: RedisConnector,
    commandTemplate: readonly string[],
    options: SinkOptions,
    logger: Logger,
  ) {
    super(id, redis, options, logger);
    if (commandTemplate.length === 0) throw new Error('command_template is empty');
    this.template = commandTemplate.map((t) => compileTemplate(t));
  }

  protected render(out: Output): { value: string[]; bytes: number } {
    const value = this.template.map((t) => renderText(t, out));
    return { value, bytes: value.reduce((n, a) => n + a.length + 8, 16) };
  }

  protected async write(batch: string[][]): Promise<ItemResult[]> {
    if (this.redis.status !== 'connected') throw new Error(`redis:${this.redis.name} is ${this.redis.status}`);
    const p = this.redis.client.pipeline();
    for (const [cmd, ...args] of batch) p.call(cmd!, ...args);
    const replies = await p.exec();
    if (!replies) throw new Error('pipeline not run');
    let retry = false;
    return replies.map(([err]) => {
      if (!err) return retry ? 'retry' : 'ok';
      if (isReplyError(err)) {
        this.logger.warn({ action: this.id, err: err.message }, 'Redis refused a command');
        return retry ? 'retry' : 'failed';
      }
      retry = true;
      return 'retry';
    });
  }
}
