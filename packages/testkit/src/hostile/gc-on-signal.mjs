// Preloaded into a server under attack (Node: --expose-gc --import; Bun: --preload; Deno:
// --v8-flags=--expose-gc --preload) so that the server itself need not know about it: on SIGUSR2
// it runs full garbage collections, then prints `gc done` on stdout. Memory read after that is
// what the server still holds, not garbage its collector has not got round to yet.
const bun = globalThis.Bun;
const deno = globalThis.Deno;
const collect = bun ? () => bun.gc(true) : globalThis.gc;
if (typeof collect !== 'function') throw new Error('gc-on-signal: no gc() (--expose-gc missing)');

const collectAll = async () => {
  // Several rounds, with turns of the event loop between them: finalizers run, their memory goes next.
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  console.log('gc done');
};

if (deno) deno.addSignalListener('SIGUSR2', collectAll);
else process.on('SIGUSR2', collectAll);
