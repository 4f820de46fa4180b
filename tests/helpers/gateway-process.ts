// `sceau gateway serve` as its own process (crash tests kill it), and raw frames posted to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { sceauBin } from './cli.js';

/** Starts `sceau gateway serve --db DB --http 127.0.0.1:0 --json`; resolves with its HTTP port once it listens. */
export function startGatewayProcess(db: string, children: ChildProcess[], extraArgs: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [sceauBin, 'gateway', 'serve', '--db', db, '--http', '127.0.0.1:0', '--json', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      const { listening } = JSON.parse(line) as { listening: { http: { port: number } } };
      resolve({ child, port: listening.http.port });
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening: ${stderr}`)));
  });
}

/** POST /v1/frames of one raw frame; status 0 when the connection failed (the gateway died). */
export function postFrame(agent: Agent, port: number, frame: Uint8Array): Promise<{ status: number; code?: string; delivery?: string; id?: number }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/frames', method: 'POST', agent, headers: { 'content-type': 'application/cose', 'content-length': frame.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { code?: string; delivery?: string; id?: number };
          resolve({ status: res.statusCode ?? 0, code: body.code, delivery: body.delivery, id: body.id });
        } catch {
          resolve({ status: res.statusCode ?? 0 });
        }
      });
      res.on('error', () => resolve({ status: 0 }));
    });
    req.on('error', () => resolve({ status: 0 }));
    req.end(frame);
  });
}
