/**
 * @fullduplex/bun — the adapter to this runtime's own sockets lands with its issue
 * (see the repository README). Until then this package exports nothing.
 */
export {};
