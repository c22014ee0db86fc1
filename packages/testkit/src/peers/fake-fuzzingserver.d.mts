/** Types of fake-fuzzingserver.mjs (a plain Node module so it can also run as a process). */

/** A message as the fake server sent or received it. */
export interface FuzzingMessage {
  binary: boolean;
  data: Buffer;
}

/** What the fake server saw of one runCase connection. */
export interface FuzzingCaseReport {
  url: string;
  /** Echoes received, in order. */
  echoes: FuzzingMessage[];
  expected: FuzzingMessage[];
  pongs: string[];
  /** The close the client sent back (it must only answer ours). */
  clientClose: { code: number; reason: string } | undefined;
  /** The client closed before we did (it must echo until the server closes). */
  clientClosedFirst: boolean;
  error: string | undefined;
}

/** A message shaped for comparison: binary data as base64, text decoded. */
export interface ShownMessage {
  binary: boolean;
  size: number;
  data: string;
}

export interface FakeFuzzingServer {
  url: string;
  /** Every request target, in order. */
  requests: string[];
  reportsAgent: string[];
  cases: FuzzingCaseReport[];
  report(): {
    requests: string[];
    reportsAgent: string[];
    cases: Array<
      Omit<FuzzingCaseReport, 'echoes' | 'expected'> & { echoes: ShownMessage[]; expected: ShownMessage[] }
    >;
  };
  stop(): Promise<void>;
}

export function showMessages(messages: readonly FuzzingMessage[]): ShownMessage[];
export function startFakeFuzzingServer(): Promise<FakeFuzzingServer>;
