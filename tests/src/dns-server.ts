/**
 * A small authoritative DNS server for tests (dns-packet over loopback UDP): A and SRV
 * records that a test can change while nodes query them.
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export interface SrvTarget {
  target: string;
  port: number;
}

export interface DnsServer {
  /** `127.0.0.1:port`, for `cluster.dns.resolver`. */
  address: string;
  a: Map<string, string[]>;
  srv: Map<string, SrvTarget[]>;
  /** Queries seen, as `TYPE name`. */
  queries: string[];
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const a = new Map<string, string[]>();
  const srv = new Map<string, SrvTarget[]>();
  const queries: string[] = [];
  socket.on('message', (buf, rinfo) => {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(buf);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    queries.push(`${question.type} ${question.name}`);
    const answers: dnsPacket.Answer[] = [];
    if (question.type === 'A') {
      for (const ip of a.get(question.name) ?? []) answers.push({ type: 'A', name: question.name, ttl: 1, data: ip });
    } else if (question.type === 'SRV') {
      for (const s of srv.get(question.name) ?? []) {
        answers.push({ type: 'SRV', name: question.name, ttl: 1, data: { priority: 10, weight: 10, port: s.port, target: s.target } });
      }
    }
    const known = a.has(question.name) || srv.has(question.name);
    const reply = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : 3), // rcode 3: NXDOMAIN
      questions: [question],
      answers,
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    a,
    srv,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
