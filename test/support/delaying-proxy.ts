// A TCP proxy in front of a real server that can hold back what one client
// sends from the moment a given text goes through it: the network delaying a
// write (a retransmission, a partition) after the client already sent it.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayingProxy {
  url(scheme: string): string;
  /** From the first chunk that carries `marker` on, hold everything a client sends. */
  holdFrom(marker: string): void;
  /** Whether a chunk carrying the marker is being held. */
  holding(): boolean;
  /** Sends everything held, in order, and lets traffic through again. */
  release(): void;
  /** Bytes the server sent back over a held connection since release(): the held commands were answered. */
  answeredSinceRelease(): number;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  held: Buffer[] | undefined;
  /** Its held bytes were sent on: what the server sends back now answers them (and what followed). */
  released: boolean;
  clientEnded: boolean;
}

export async function delayingProxy(upstreamPort: number): Promise<DelayingProxy> {
  const links = new Set<Link>();
  let marker: string | undefined;
  let answered = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    const link: Link = { client, upstream, held: undefined, released: false, clientEnded: false };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (!link.held && marker !== undefined && chunk.includes(marker)) link.held = [];
      if (link.held) link.held.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (link.released) answered += chunk.length;
      client.write(chunk);
    });
    client.on('end', () => {
      link.clientEnded = true;
      if (!link.held) upstream.end();
    });
    upstream.on('end', () => client.end());
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => {
      if (!link.held) drop();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    holdFrom(m) {
      marker = m;
    },
    holding: () => [...links].some((l) => l.held !== undefined && l.held.length > 0),
    release() {
      marker = undefined;
      for (const link of links) {
        if (!link.held) continue;
        const held = link.held;
        link.held = undefined;
        link.released = true;
        for (const chunk of held) link.upstream.write(chunk);
        if (link.clientEnded) link.upstream.end();
      }
    },
    answeredSinceRelease: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        for (const l of links) {
          l.client.destroy();
          l.upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
