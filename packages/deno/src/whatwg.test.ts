// The WHATWG WebSocket conformance suite, run against the Deno adapter.
import { defineWhatwgSuite } from '@fullduplex/testkit/adapter/whatwg';
import { WebSocket, WebSocketServer } from './index.ts';

defineWhatwgSuite({ name: 'deno', WebSocket, WebSocketServer });
