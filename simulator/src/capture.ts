import { closeSync, openSync, writeSync } from 'node:fs';
import { type Bytes, toHex } from '@sceau/protocol';
import type { AttackKind } from './config.js';

/**
 * The run's capture file (`--capture FILE`): one NDJSON line per datagram put on the air, genuine
 * or injected, `{t, kid, datagram, attack}`, buffered in 1 MiB writes.
 */
export class CaptureWriter {
  private readonly fd: number;
  private buf = '';
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  write(t: number, kid: string, datagram: Bytes, attack: AttackKind | null): void {
    this.buf += `{"t":${t},"kid":"${kid}","datagram":"${toHex(datagram)}","attack":${attack === null ? 'null' : `"${attack}"`}}\n`;
    if (this.buf.length > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buf.length > 0) writeSync(this.fd, this.buf);
    this.buf = '';
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
