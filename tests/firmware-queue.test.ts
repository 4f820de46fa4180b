// The firmware's store-and-forward queue, run in the DeviceScript VM: bounded; when full the
// oldest batches are merged while they fit one frame, and only then dropped, with a count.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry } from '../firmware/scripts/build.mjs';
import { runToMarker } from '../firmware/scripts/devs-vm.mjs';

const r: Record<string, any> = {};

beforeAll(async () => {
  const { binary } = buildEntry('src/unit-test-main.ts');
  const acc: Record<string, string> = {};
  for (const l of (await runToMarker(binary, { timeoutMs: 20_000 })) as string[]) {
    const m = /^#r (\w+)(\+?) (.*)$/.exec(l);
    if (!m) continue;
    acc[m[1]!] = (acc[m[1]!] ?? '') + m[3]!;
    if (m[2] !== '+') r[m[1]!] = JSON.parse(acc[m[1]!]!);
  }
}, 60_000);

describe('store-and-forward queue (DeviceScript VM)', () => {
  it('merges the oldest batches before dropping anything', () => {
    expect(r.merge.dropped).toBe(0);
    expect(r.merge.batches).toEqual([[0, 1, 100, 101], [200, 201, 300, 301], [400, 401, 500, 501]]);
  });

  it('drops the oldest batches when nothing can merge, and counts the readings', () => {
    expect(r.drop.dropped).toBe(9);
    expect(r.drop.batches).toEqual([[300, 301, 302], [400, 401, 402]]);
  });
});
