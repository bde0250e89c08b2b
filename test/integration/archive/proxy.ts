import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a real service (moto S3, the REST catalog) that forwards every request,
 * and for the ones `drop` picks, lets the service apply it but never answers: it closes the
 * client's connection after the service replied. That is a lost response — the request took effect,
 * the client cannot know.
 */
export class LosingProxy {
  private server: Server | undefined;
  url = '';
  /** Requests whose response was dropped: `METHOD path → upstream status`. */
  readonly dropped: string[] = [];
  readonly seen: string[] = [];

  constructor(
    private readonly target: string,
    private readonly drop: (req: IncomingMessage, index: number) => boolean,
  ) {}

  async start(): Promise<void> {
    const target = new URL(this.target);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const index = this.seen.push(`${req.method} ${req.url}`) - 1;
        const lose = this.drop(req, index);
        const up = request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: target.host },
          },
          (upRes) => {
            const body: Buffer[] = [];
            upRes.on('data', (c: Buffer) => body.push(c));
            upRes.on('end', () => {
              if (lose) {
                this.dropped.push(`${req.method} ${req.url} → ${upRes.statusCode}`);
                req.socket.destroy();
                return;
              }
              res.writeHead(upRes.statusCode ?? 502, upRes.headers);
              res.end(Buffer.concat(body));
            });
          },
        );
        up.on('error', () => req.socket.destroy());
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
