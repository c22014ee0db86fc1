export {
  type BrowserClientOptions,
  CHROMIUM_ARGS,
  CHROMIUM_EXECUTABLE,
  launchChromium,
  runBrowserClient,
} from './chromium.ts';
export {
  type PythonEchoServer,
  type PythonPeerOptions,
  pythonExecutable,
  runPythonClient,
  startPythonEchoServer,
} from './python.ts';
export {
  type BrowserClientResult,
  binarySummary,
  echoSummary,
  messageBytes,
  type PeerClientResult,
  type PeerClose,
  type PeerMessage,
  type PeerScript,
  type PythonClientResult,
  patternBytes,
  type ReceivedMessage,
  sha256Hex,
} from './script.ts';
