/**
 * The chat demo's real entries as child processes: `node dist/node.js`, `bun src/bun.ts`
 * and `deno run … src/deno.ts`, exactly as the app README runs them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type Runtime = 'node' | 'bun' | 'deno';
export const RUNTIMES: readonly Runtime[] = ['node', 'bun', 'deno'];

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
// The real binaries: node_modules/.bin/bun is a shell wrapper that does not pass SIGKILL/SIGTERM on.
const BUN = `${APP_DIR}node_modules/bun/bin/bun.exe`;
const DENO = `${APP_DIR}node_modules/deno/deno`;

function command(runtime: Runtime): [string, string[]] {
  switch (runtime) {
    case 'node':
      return [process.execPath, ['dist/node.js']];
    case 'bun':
      return [BUN, ['src/bun.ts']];
    case 'deno':
      return [DENO, ['run', '--no-prompt', '--allow-net', '--allow-read', '--allow-env', 'src/deno.ts']];
  }
}

export interface ChatProcessOptions {
  /** 0 picks a free port. */
  readonly port?: number;
  readonly redisUrl?: string;
  /** How long to wait for the "chat demo on" line. Default 30 s (Deno's first start compiles). */
  readonly startTimeout?: number;
}

/** One running chat server process. */
export class ChatProcess {
  /** Everything the process printed, for failure messages. */
  output = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly runtime: Runtime,
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `ws://127.0.0.1:<port>/ws` */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  static async start(runtime: Runtime, options: ChatProcessOptions = {}): Promise<ChatProcess> {
    const [cmd, args] = command(runtime);
    const env: Record<string, string | undefined> = {
      ...process.env,
      PORT: String(options.port ?? 0),
      HOST: '127.0.0.1',
      NO_COLOR: '1',
    };
    if (options.redisUrl) env.REDIS_URL = options.redisUrl;
    else delete env.REDIS_URL;
    const child = spawn(cmd, args, { cwd: APP_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(`${runtime} chat did not start within ${options.startTimeout ?? 30_000} ms:\n${output}`),
        );
      }, options.startTimeout ?? 30_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const match = /chat demo on http:\/\/localhost:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${runtime} chat exited (${code ?? signal}) before listening:\n${output}`));
      });
    });
    const running = new ChatProcess(runtime, child, port);
    running.output = output;
    const record = (chunk: Buffer): void => {
      running.output += chunk.toString();
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    return running;
  }

  /** Like a crash: SIGKILL, no closing handshakes, no cleanup. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the entry closes every connection with 1001 and exits. Resolves with the exit code. */
  async stop(timeout = 10_000): Promise<number | null> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeout);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
