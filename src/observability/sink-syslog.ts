// The `syslog` log sink: each record as an RFC 5424 message (`<PRI>1 TIMESTAMP HOSTNAME
// APP-NAME PROCID access - MSG`, the MSG being the record's JSON), over UDP (one datagram per
// message, RFC 5426), or over TCP or TLS with octet-counting framing (`LEN SP MSG`, RFC 6587
// and RFC 5425) on one connection kept open. Severity is informational, warning for a 5xx or
// a cut response. Over TCP/TLS a batch counts as sent once the kernel took its bytes (syslog
// has no acknowledgement); a connection that fails, or a write not flushed within the
// timeout, is closed and the batch retried on a new one.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { RequestContext } from '../proxy/context.js';
import { DeliveryError, type SinkTransport } from './delivery-queue.js';
import type { SyslogSinkSpec } from './log-sink-config.js';

const SEVERITY_INFO = 6;
const SEVERITY_WARNING = 4;
/** RFC 5424 HOSTNAME: printable US-ASCII, at most 255. */
const HOST = hostname().replace(/[^!-~]/g, '').slice(0, 255) || '-';

/** The RFC 5424 message of one request (without framing); `record`: the sink's record of the request. */
export function syslogMessage(spec: SyslogSinkSpec, ctx: RequestContext, time: string, pid: number, record: string): string {
  const status = ctx.res.headersSent ? ctx.responseStatus : 0;
  const severity = status === 0 || status >= 500 ? SEVERITY_WARNING : SEVERITY_INFO;
  return `<${spec.facility * 8 + severity}>1 ${time} ${HOST} ${spec.appName} ${pid} access - ${record}`;
}

export function syslogTransport(spec: SyslogSinkSpec): SinkTransport<string> {
  return spec.transport === 'udp' ? new UdpTransport(spec) : new StreamTransport(spec);
}

class UdpTransport implements SinkTransport<string> {
  readonly #socket: UdpSocket;
  readonly #host: string;
  readonly #port: number;

  constructor(spec: SyslogSinkSpec) {
    this.#host = spec.host;
    this.#port = spec.port;
    this.#socket = createSocket(isIP(spec.host) === 6 ? 'udp6' : 'udp4');
    this.#socket.on('error', () => undefined);
    this.#socket.unref();
  }

  async send(batch: readonly string[]): Promise<void> {
    for (const message of batch) {
      await new Promise<void>((resolve, reject) => {
        this.#socket.send(message, this.#port, this.#host, (err) => (err ? reject(new DeliveryError(`cannot send to ${this.#host}:${this.#port}: ${err.message}`, false)) : resolve()));
      });
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}

class StreamTransport implements SinkTransport<string> {
  readonly #spec: SyslogSinkSpec;
  #socket: Socket | null = null;
  #closed = false;

  constructor(spec: SyslogSinkSpec) {
    this.#spec = spec;
  }

  async send(batch: readonly string[]): Promise<void> {
    const socket = this.#socket ?? (await this.#connect());
    const body = Buffer.from(batch.map((m) => `${Buffer.byteLength(m)} ${m}`).join(''));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`write not flushed within ${this.#spec.timeoutMs} ms`)), this.#spec.timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.off('close', onClose);
        this.#drop(socket);
        reject(new DeliveryError(`syslog connection to ${this.#spec.host}:${this.#spec.port}: ${err.message}`, true));
      };
      const onClose = (): void => fail(new Error('closed'));
      socket.once('close', onClose);
      socket.write(body, (err) => {
        if (err) return fail(err);
        clearTimeout(timer);
        socket.off('close', onClose);
        resolve();
      });
    });
  }

  #connect(): Promise<Socket> {
    const { host, port, timeoutMs, tls } = this.#spec;
    return new Promise<Socket>((resolve, reject) => {
      const secure = this.#spec.transport === 'tls';
      const socket = secure ? tlsConnect({ host, port, ...(tls ?? {}), ...(isIP(host) === 0 && tls?.servername === undefined ? { servername: host } : {}) }) : tcpConnect({ host, port });
      const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new DeliveryError(`cannot connect to syslog at ${host}:${port}: ${err.message}`, true));
      };
      socket.once('error', fail);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        if (this.#closed) return fail(new Error('sink closed'));
        // Later errors surface as 'close' during a write; the receiver never talks back.
        socket.on('error', () => undefined);
        socket.on('data', () => undefined);
        socket.once('close', () => this.#drop(socket));
        socket.setKeepAlive(true, 30_000);
        this.#socket = socket;
        resolve(socket);
      });
    });
  }

  #drop(socket: Socket): void {
    socket.destroy();
    if (this.#socket === socket) this.#socket = null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const socket = this.#socket;
    if (socket === null) return;
    this.#socket = null;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }
}
