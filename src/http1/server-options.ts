// The options of the HTTP/1.1 server engine and what its connections read from the server.
import type { Socket } from 'node:net';
import type { Http1Request } from './server-request.js';
import type { Http1Response } from './server-response.js';

export interface Http1ServerOptions {
  /** llhttp's limit on a request head in bytes (0: node's default, --max-http-header-size). */
  maxHeaderSize?: number;
  /** Time to read a request head, from its first byte (node's headersTimeout; 0: none). */
  headersTimeout?: number;
  /** Time to read a whole request, head and body (node's requestTimeout; 0: none). */
  requestTimeout?: number;
  /** Idle time allowed between requests of a kept-alive connection (0: none). */
  keepAliveTimeout?: number;
  /** Inactivity allowed on a connection at any time (node's server.setTimeout; 0: none). */
  timeout?: number;
  /** How often deadlines are checked (node's connectionsCheckingInterval). */
  connectionsCheckingInterval?: number;
  /** Bytes of request bodies read ahead of their consumers before the socket is paused. */
  maxBufferedBytes?: number;
  /** Pipelined requests read ahead of the active one before the socket is paused. */
  maxPipelined?: number;
  noDelay?: boolean;
}

export type RequestHandler = (req: Http1Request, res: Http1Response) => void;
export type UpgradeHandler = (req: Http1Request, socket: Socket, head: Buffer) => void;
export type ClientErrorHandler = (err: NodeJS.ErrnoException, socket: Socket) => void;

/** What a connection reads from its server (current values: limits may change on reload). */
export interface Http1ServerCore {
  readonly maxHeaderSize: number;
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly timeout: number;
  readonly maxBufferedBytes: number;
  readonly maxPipelined: number;
  readonly closing: boolean;
  readonly onRequest: RequestHandler;
  readonly onUpgrade: UpgradeHandler | null;
  readonly onClientError: ClientErrorHandler;
  listenerCount(event: string): number;
  emit(event: string, ...args: unknown[]): boolean;
  forget(conn: object): void;
}
