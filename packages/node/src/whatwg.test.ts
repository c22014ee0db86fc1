// The WHATWG WebSocket conformance suite, run against the Node adapter.
import { defineWhatwgSuite } from '@fullduplex/testkit/adapter/whatwg';
import { WebSocket, WebSocketServer } from './index.ts';

defineWhatwgSuite({ name: 'node', WebSocket, WebSocketServer });
