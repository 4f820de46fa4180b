// A gateway started on a SQLite file (`db: path`) has the SQLite `Store` as its store; its type is
// the backend-neutral `OpenedStore`. Tests that use the SQLite store's own synchronous methods
// (addDevice, writeFrames, db) get it here, checked rather than cast.
import { Store, type OpenedStore } from '@sceau/host-tools';

export function sqliteStore(gw: { readonly store: OpenedStore }): Store {
  const { store } = gw;
  if (!(store instanceof Store)) throw new TypeError(`expected the gateway's SQLite Store, got ${store.constructor.name}`);
  return store;
}
