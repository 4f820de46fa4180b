import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Reads a JSON file of protocol/vectors (third-party ones under `third-party/`). */
export function readVector<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'vectors', name), 'utf8')) as T;
}
