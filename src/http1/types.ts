// What the proxy uses of a downstream HTTP/1.x exchange, with node's signatures: node's
// IncomingMessage and ServerResponse satisfy these interfaces, and so do the requests and
// responses of Northgate's own HTTP/1.1 server engine (server.ts), so the proxy runs on either.
import type { IncomingHttpHeaders, OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

export interface DownstreamRequest {
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly httpVersion: string;
  /** Built from rawHeaders on first access, with node's joining rules. */
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly url?: string | undefined;
  readonly method?: string | undefined;
  readonly socket: Socket;
  /** The trailers of a chunked body (empty until the body ended). */
  readonly trailers: NodeJS.Dict<string>;
  readonly complete: boolean;
  readonly destroyed: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end' | 'close' | 'aborted', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'data', listener: (chunk: Buffer) => void): this;
  once(event: 'end' | 'close' | 'aborted', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  off(event: 'data', listener: (chunk: Buffer) => void): this;
  off(event: 'end' | 'close' | 'aborted', listener: () => void): this;
  off(event: 'error', listener: (err: Error) => void): this;
  removeListener(event: 'data', listener: (chunk: Buffer) => void): this;
  removeListener(event: 'end' | 'close' | 'aborted', listener: () => void): this;
  removeListener(event: 'error', listener: (err: Error) => void): this;
  pause(): this;
  resume(): this;
  unshift(chunk: Buffer): void;
  iterator(options?: { destroyOnReturn?: boolean }): AsyncIterableIterator<unknown>;
  destroy(error?: Error): this;
  /** The engine's request only: the whole body when it is already read and not yet consumed (Http1Request.takeBody). */
  takeBody?(limit: number): Buffer | null | undefined;
}

export interface DownstreamResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly writableFinished: boolean;
  readonly writableEnded: boolean;
  readonly closed: boolean;
  /** null while a pipelined request waits for the earlier response (node: until 'socket'). */
  readonly socket: Socket | null;
  /** Set false to close the connection after this response (the gateway's drain). */
  shouldKeepAlive: boolean;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  setHeader(name: string, value: number | string | readonly string[]): this;
  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean;
  end(callback?: () => void): this;
  end(chunk: string | Uint8Array | undefined, callback?: () => void): this;
  addTrailers(headers: OutgoingHttpHeaders | ReadonlyArray<[string, string]>): void;
  writeContinue(callback?: () => void): void;
  writeEarlyHints(hints: Record<string, string | string[]>, callback?: () => void): void;
  flushHeaders(): void;
  destroy(error?: Error): this;
  on(event: 'drain' | 'close' | 'finish', listener: () => void): this;
  on(event: 'socket', listener: (socket: Socket) => void): this;
  once(event: 'drain' | 'close' | 'finish', listener: () => void): this;
  once(event: 'socket', listener: (socket: Socket) => void): this;
  removeListener(event: 'drain' | 'close' | 'finish', listener: () => void): this;
  removeListener(event: 'socket', listener: (socket: Socket) => void): this;
}
