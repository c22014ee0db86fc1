/**
 * Drive `python_peer.py` (Python's `websockets` library) as a WebSocket echo server or as a
 * scripted client. Node-only test support.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PeerScript, PythonClientResult } from './script.ts';

const PEER_SCRIPT = fileURLToPath(new URL('./python_peer.py', import.meta.url));

export interface PythonPeerOptions {
  /** Subprotocols the peer supports (server) or offers (client). */
  subprotocols?: string[];
  /** permessage-deflate; `websockets` enables it by default. */
  compression?: boolean;
  /** Largest accepted message in bytes; the peer's default is 64 MiB; 0 = unlimited. */
  maxSize?: number;
  /** Interpreter; default `$FULLDUPLEX_PYTHON`, else `/usr/bin/python3` if present, else `python3`. */
  python?: string;
  /** Default 10 s for the server to be listening, 30 s for a client run. */
  timeoutMs?: number;
}

export interface PythonEchoServer {
  url: string;
  port: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

/**
 * The Debian `python3-websockets` package installs into the system interpreter, which a `python3`
 * earlier on PATH (pyenv, venv) would not see; prefer `/usr/bin/python3`.
 */
export function pythonExecutable(override?: string): string {
  if (override) return override;
  const fromEnv = process.env['FULLDUPLEX_PYTHON'];
  if (fromEnv) return fromEnv;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function peerArgs(opts: PythonPeerOptions): string[] {
  const args: string[] = [];
  if (opts.subprotocols && opts.subprotocols.length > 0)
    args.push('--subprotocols', opts.subprotocols.join(','));
  if (opts.compression !== undefined) args.push('--compression', opts.compression ? 'on' : 'off');
  if (opts.maxSize !== undefined) args.push('--max-size', String(opts.maxSize));
  return args;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Start the Python echo server on 127.0.0.1 on an ephemeral port. */
export function startPythonEchoServer(opts: PythonPeerOptions = {}): Promise<PythonEchoServer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const child = spawn(
    pythonExecutable(opts.python),
    [PEER_SCRIPT, 'server', '--port', '0', '--exit-on-stdin-eof', ...peerArgs(opts)],
    // stdin stays open: if this Node process dies the pipe closes and the server exits.
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = waitForExit(child);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      cleanup();
      void stop();
      reject(new Error(`python echo server: ${message}\n--- stderr ---\n${stderr}`));
    };
    const onData = (chunk: string) => {
      stdout += chunk;
      const match = /^LISTENING (\d+)\s*$/m.exec(stdout);
      if (!match) return;
      cleanup();
      const port = Number(match[1]);
      resolve({ url: `ws://127.0.0.1:${port}`, port, stop });
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`${describeExit(code, signal)} before listening`);
    const onError = (err: Error) => fail(`spawn failed: ${err.message}`);
    const timer = setTimeout(() => fail(`not listening after ${timeoutMs} ms`), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

interface RawPythonClientResult {
  protocol: string | null;
  extensions: string | null;
  received: PythonClientResult['received'];
  close_code: number | null;
  close_reason: string | null;
  error: string | null;
}

/**
 * Run the Python scripted client against `url`. Resolves with its report (check `error`: a failed
 * handshake or an early close is reported there, not thrown). Rejects if the process fails, prints
 * no JSON, or runs longer than `timeoutMs` (then it is killed); the error message includes stderr.
 */
export function runPythonClient(
  url: string,
  script: PeerScript,
  opts: PythonPeerOptions = {},
): Promise<PythonClientResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(
      pythonExecutable(opts.python),
      [PEER_SCRIPT, 'client', '--url', url, ...peerArgs(opts)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (err: Error | null, result?: PythonClientResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(result!);
    };
    const failure = (message: string) =>
      new Error(`python client (${url}): ${message}\n--- stderr ---\n${stderr}`);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(failure(`timed out after ${timeoutMs} ms; stdout so far: ${JSON.stringify(stdout)}`));
    }, timeoutMs);

    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (err) => finish(failure(`spawn failed: ${err.message}`)));
    // 'close' (not 'exit'): stdout has been fully read by then.
    child.once('close', (code, signal) => {
      if (code !== 0) {
        finish(failure(`${describeExit(code, signal)}; stdout: ${JSON.stringify(stdout)}`));
        return;
      }
      const line = stdout.trim().split('\n').at(-1) ?? '';
      let raw: RawPythonClientResult;
      try {
        raw = JSON.parse(line) as RawPythonClientResult;
      } catch {
        finish(failure(`no JSON result line; stdout: ${JSON.stringify(stdout)}`));
        return;
      }
      finish(null, {
        protocol: raw.protocol,
        extensions: raw.extensions,
        received: raw.received,
        closeCode: raw.close_code,
        closeReason: raw.close_reason,
        error: raw.error,
      });
    });
    child.stdin!.on('error', () => {
      // EPIPE if the child died early; reported through 'close'.
    });
    child.stdin!.end(JSON.stringify(script));
  });
}
