/**
 * A verification worker: runs the stateless part of `verifyFrame` (everything but the replay
 * window, which the main thread applies in order) against its own read-only connection to the
 * registry, so signatures are checked on another core.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { verifyFrame } from '@sceau/protocol';
import { Store } from './store.js';
import type { VerifyJob } from './verify-pool.js';


const { dbFile } = workerData as { dbFile: string };
const store = Store.open(dbFile, { readonly: true });

parentPort!.on('message', (jobs: VerifyJob[]) => {
  const results = jobs.map((job) => {
    const options = job.deviceId === undefined ? { now: job.now, maxFrameBytes: job.maxFrameBytes } : { now: job.now, maxFrameBytes: job.maxFrameBytes, deviceId: job.deviceId };
    return { id: job.id, result: verifyFrame(job.frame, store, options) };
  });
  parentPort!.postMessage(results);
});
