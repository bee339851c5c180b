// Two connected in-memory stream ends that node's HTTP server and client (and undici) accept in
// place of a TCP socket: real HTTP parsing on both sides, no file descriptor, no port.
import { Duplex } from 'node:stream';

export interface SocketAddresses {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

export class MemorySocket extends Duplex {
  peer: MemorySocket | null = null;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteFamily: string;
  readonly encrypted = false;
  connecting = false;

  constructor(addresses: SocketAddresses) {
    // Not half-open: once the peer has ended, this end ends too, as a TCP socket does by default.
    super({ allowHalfOpen: false });
    this.remoteAddress = addresses.remoteAddress;
    this.remotePort = addresses.remotePort;
    this.localAddress = addresses.localAddress;
    this.localPort = addresses.localPort;
    this.remoteFamily = addresses.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
  }

  override _read(): void {
    // Data arrives when the peer writes.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer === null || peer.destroyed || peer.readableEnded) return callback(Object.assign(new Error('the peer closed the connection'), { code: 'EPIPE' }));
    peer.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#endPeer();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The peer reads what was already sent, then its end: like a TCP FIN, not a reset, so
    // that a response written just before the close still reaches the other side.
    this.#endPeer();
    callback(error);
  }

  #endPeer(): void {
    const peer = this.peer;
    if (peer !== null && !peer.destroyed && !peer.readableEnded) peer.push(null);
  }

  // The socket methods node's http and undici call; there is no kernel socket to tune.
  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(_ms: number, callback?: () => void): this {
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: this.remoteFamily, port: this.localPort };
  }
}

/** A connected pair: what one end writes, the other reads. `client` is the connecting side. */
export function socketPair(client: { address: string; port: number }, server: { address: string; port: number }): { client: MemorySocket; server: MemorySocket } {
  const c = new MemorySocket({ remoteAddress: server.address, remotePort: server.port, localAddress: client.address, localPort: client.port });
  const s = new MemorySocket({ remoteAddress: client.address, remotePort: client.port, localAddress: server.address, localPort: server.port });
  c.peer = s;
  s.peer = c;
  return { client: c, server: s };
}
