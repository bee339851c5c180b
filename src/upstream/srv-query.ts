// One SRV question to the configured DNS servers, over UDP (with EDNS0, 4096-byte answers)
// and over TCP when the answer comes back truncated. node:dns's resolveSrv gives no TTL, and
// SRV targets are re-resolved on theirs: hence this small RFC 1035 client for one record type.
import { createSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { connect, isIP } from 'node:net';
import { randomInt } from 'node:crypto';

export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** The target host name (lower case, no trailing dot), or an IP address. */
  readonly name: string;
}

export interface SrvAnswer {
  /** Empty: the name does not exist, has no SRV record, or says "no service here" (target "."). */
  readonly records: SrvRecord[];
  /** The smallest TTL of the answer (for an empty one, the zone's negative TTL), unbounded. */
  readonly ttlMs: number | null;
}

export interface SrvQueryOptions {
  /** "host:port" of the servers, null: the system's. */
  readonly servers: readonly string[] | null;
  readonly timeoutMs: number;
  readonly attempts: number;
}

const TYPE_SRV = 33;
const TYPE_SOA = 6;
const TYPE_OPT = 41;
const UDP_PAYLOAD = 4096;
/** Bound on name compression pointers followed while reading one name. */
const MAX_POINTERS = 32;

export async function querySrv(service: string, o: SrvQueryOptions): Promise<SrvAnswer> {
  const servers = (o.servers ?? getServers()).map(parseServer);
  if (servers.length === 0) throw new Error('no DNS server configured');
  let last: unknown = new Error('no answer');
  for (let attempt = 0; attempt < o.attempts; attempt++) {
    for (const s of servers) {
      try {
        const id = randomInt(0x10000);
        const query = encodeQuery(id, service);
        let reply = await udpExchange(s, query, o.timeoutMs);
        if ((reply.readUInt16BE(2) & 0x0200) !== 0) reply = await tcpExchange(s, query, o.timeoutMs);
        return decodeAnswer(reply, id);
      } catch (err) {
        last = err;
      }
    }
  }
  throw last;
}

interface Server {
  readonly host: string;
  readonly port: number;
}

function parseServer(s: string): Server {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (m !== null) return { host: m[1]!, port: Number(m[2] ?? 53) };
  return { host: s, port: 53 };
}

function encodeQuery(id: number, name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 10); // the OPT record
  const question = Buffer.alloc(4);
  question.writeUInt16BE(TYPE_SRV, 0);
  question.writeUInt16BE(1, 2);
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(TYPE_OPT, 1);
  opt.writeUInt16BE(UDP_PAYLOAD, 3);
  return Buffer.concat([header, qname, question, opt]);
}

function udpExchange(s: Server, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(s.host) === 6 ? 'udp6' : 'udp4');
    const id = query.readUInt16BE(0);
    const done = (err: Error | null, reply?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err !== null) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(Object.assign(new Error(`DNS server ${s.host}:${s.port} did not answer`), { code: 'ETIMEOUT' })), timeoutMs);
    socket.on('error', (err) => done(err));
    // A datagram that is not the answer to this query (another id, too short) is ignored.
    socket.on('message', (msg) => {
      if (msg.length >= 12 && msg.readUInt16BE(0) === id && (msg[2]! & 0x80) !== 0) done(null, msg);
    });
    socket.send(query, s.port, s.host);
  });
}

function tcpExchange(s: Server, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(s.port, s.host);
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | null, reply?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(Object.assign(new Error(`DNS server ${s.host}:${s.port} did not answer over TCP`), { code: 'ETIMEOUT' })), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size < 2) return;
      const all = Buffer.concat(chunks);
      const want = all.readUInt16BE(0);
      if (all.length >= want + 2) done(null, all.subarray(2, 2 + want));
    });
    socket.on('end', () => done(new Error(`DNS server ${s.host}:${s.port} closed the TCP connection before answering`)));
  });
}

class Reader {
  at: number;
  constructor(
    readonly msg: Buffer,
    at: number,
  ) {
    this.at = at;
  }

  need(n: number): void {
    if (this.at + n > this.msg.length) throw new Error('malformed DNS answer: truncated record');
  }
  u16(): number {
    this.need(2);
    const v = this.msg.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.msg.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  /** A name, following compression pointers (bounded); the reader ends after the name's first copy. */
  name(): string {
    const labels: string[] = [];
    let at = this.at;
    let end = -1;
    for (let jumps = 0; ; ) {
      if (at >= this.msg.length) throw new Error('malformed DNS answer: name past the end');
      const len = this.msg[at]!;
      if ((len & 0xc0) === 0xc0) {
        if (++jumps > MAX_POINTERS || at + 1 >= this.msg.length) throw new Error('malformed DNS answer: compression loop');
        if (end === -1) end = at + 2;
        at = ((len & 0x3f) << 8) | this.msg[at + 1]!;
        continue;
      }
      if (len === 0) {
        this.at = end === -1 ? at + 1 : end;
        return labels.join('.').toLowerCase();
      }
      if (at + 1 + len > this.msg.length) throw new Error('malformed DNS answer: label past the end');
      labels.push(this.msg.subarray(at + 1, at + 1 + len).toString('latin1'));
      at += 1 + len;
    }
  }
}

const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' };

function decodeAnswer(msg: Buffer, id: number): SrvAnswer {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) throw new Error('malformed DNS answer: wrong id');
  const flags = msg.readUInt16BE(2);
  const rcode = flags & 0x000f;
  if (rcode !== 0 && rcode !== 3) throw Object.assign(new Error(`DNS server answered ${RCODES[rcode] ?? `rcode ${rcode}`}`), { code: RCODES[rcode] ?? 'EBADRESP' });
  const r = new Reader(msg, 12);
  const [qd, an, ns] = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8)];
  for (let i = 0; i < qd; i++) {
    r.name();
    r.need(4);
    r.at += 4;
  }
  const records: SrvRecord[] = [];
  let ttl: number | null = null;
  let negativeTtl: number | null = null;
  for (let i = 0; i < an + ns; i++) {
    r.name();
    const type = r.u16();
    r.u16();
    const recordTtl = r.u32();
    const length = r.u16();
    r.need(length);
    const end = r.at + length;
    if (i < an && type === TYPE_SRV) {
      const priority = r.u16();
      const weight = r.u16();
      const port = r.u16();
      const name = r.name();
      ttl = ttl === null ? recordTtl : Math.min(ttl, recordTtl);
      // RFC 2782: a lone record whose target is "." says the service is decidedly not available.
      if (name !== '') records.push({ priority, weight, port, name });
    } else if (i >= an && type === TYPE_SOA) {
      r.name();
      r.name();
      r.need(20);
      r.at += 16;
      negativeTtl = Math.min(recordTtl, r.u32()); // RFC 2308: the SOA's TTL or its MINIMUM, whichever is less
    }
    r.at = end;
  }
  const seconds = ttl ?? negativeTtl;
  return { records, ttlMs: seconds === null ? null : seconds * 1000 };
}
