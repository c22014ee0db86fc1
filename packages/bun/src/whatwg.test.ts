// The WHATWG WebSocket conformance suite, run against the Bun adapter.
import { defineWhatwgSuite } from '@fullduplex/testkit/adapter/whatwg';
import { WebSocket, WebSocketServer } from './index.ts';

defineWhatwgSuite({ name: 'bun', WebSocket, WebSocketServer });
