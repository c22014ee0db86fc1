// Preloaded into a server by idle-memory.mjs and soak.mjs (`runtimeCommand(..., { gc: true })`),
// so that the server scripts stay as they are: on SIGUSR2, full garbage collections, then one line
// on stdout, `gc {"heapUsed", "heapTotal", "external"}` (bytes), after which the driver also reads
// the server's RSS from /proc. Node and Deno need V8's --expose-gc for globalThis.gc; Bun has
// Bun.gc.
const collect = async () => {
  for (let i = 0; i < 3; i++) {
    if (globalThis.Bun) globalThis.Bun.gc(true);
    else globalThis.gc?.();
    // A turn of the event loop between passes lets finalizers and weak callbacks run.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const usage = globalThis.Deno ? globalThis.Deno.memoryUsage() : process.memoryUsage();
  const { heapUsed, heapTotal, external } = usage;
  console.log(`gc ${JSON.stringify({ heapUsed, heapTotal, external })}`);
};
if (globalThis.Deno) globalThis.Deno.addSignalListener('SIGUSR2', collect);
else process.on('SIGUSR2', collect);
