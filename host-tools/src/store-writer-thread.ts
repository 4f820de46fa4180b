/**
 * The store writer thread (see store-writer.ts): owns a write connection to the database file
 * and runs each batch (frames, readings, replay windows) as one transaction, answering with the
 * row ids or the error. Messages are handled one at a time, in the order they were posted.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FrameColumns } from './frame-batch.js';
import { Store } from './store.js';
import type { WriterReply } from './store-writer.js';

const { file, synchronous } = workerData as { file: string; synchronous: 'full' | 'normal' };
const store = Store.open(file, { synchronous });
const port = parentPort!;

port.on('message', (message: 'close' | FrameColumns) => {
  if (message === 'close') {
    store.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = { ids: store.writeBatch(message) };
  } catch (error) {
    reply = { error: (error as Error).message };
  }
  port.postMessage(reply);
});
