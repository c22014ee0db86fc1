/** The runtime-neutral chat core: protocol, store, server. */
export * from './chat.ts';
export * from './protocol.ts';
export * from './store.ts';
