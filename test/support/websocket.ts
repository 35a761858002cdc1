// A minimal RFC 6455 server and client, enough to prove a WebSocket upgrade
// and a message round trip through a proxy. Text frames only.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptFor = (key: string) => createHash('sha1').update(key + GUID).digest('base64');

function frame(payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, (mask ? 0x80 : 0) | len]) : Buffer.from([0x81, (mask ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] as number)));
  return Buffer.concat([head, key, body]);
}

/** Parses one complete frame from the front of buf, or returns undefined if it is not all there yet. */
function parseFrame(buf: Buffer): { text: string; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  let len = (buf[1] as number) & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  }
  const masked = ((buf[1] as number) & 0x80) !== 0;
  const keyStart = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return undefined;
  let payload = buf.subarray(offset, offset + len);
  if (masked) payload = Buffer.from(payload.map((b, i) => b ^ (buf[keyStart + (i % 4)] as number)));
  return { text: payload.toString('utf8'), rest: buf.subarray(offset + len) };
}

export interface EchoServer {
  port: number;
  /** Paths of the upgrade requests it accepted. */
  paths: string[];
  close(): Promise<void>;
}

/** Echoes each text message as `<name> <path> <message>`. */
export async function echoServer(name: string): Promise<EchoServer> {
  const paths: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(426).end();
  });
  server.on('upgrade', (req, socket: Socket) => {
    sockets.add(socket);
    paths.push(req.url ?? '');
    const key = req.headers['sec-websocket-key'] as string;
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let f = parseFrame(buf); f; f = parseFrame(buf)) {
        buf = f.rest;
        socket.write(frame(Buffer.from(`${name} ${req.url} ${f.text}`), false));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    paths,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Opens a WebSocket to host:port/path, sends one message and returns the reply (or the HTTP status line if not upgraded). */
export function webSocketRoundTrip(port: number, path: string, message: string): Promise<{ status: string; reply?: string }> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const socket = connect(port, '127.0.0.1');
    let buf: Buffer = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('websocket round trip timed out'));
    }, 10_000);
    const done = (value: { status: string; reply?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: voice.example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        const status = head.split('\r\n')[0] as string;
        if (!/^HTTP\/1\.1 101/.test(status)) return done({ status });
        if (!head.includes(`Sec-WebSocket-Accept: ${acceptFor(key)}`) && !head.toLowerCase().includes(`sec-websocket-accept: ${acceptFor(key)}`.toLowerCase())) {
          return done({ status: `${status} (bad accept)` });
        }
        upgraded = true;
        buf = buf.subarray(end + 4);
        socket.write(frame(Buffer.from(message), true));
      }
      const f = parseFrame(buf);
      if (f) done({ status: '101', reply: f.text });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
