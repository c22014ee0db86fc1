// The shared reconnecting-client suite, run against the Deno adapter.
import { defineReconnectSuite } from '@fullduplex/testkit/adapter/reconnect';
import { ReconnectingWebSocket, WebSocketServer } from './index.ts';

defineReconnectSuite({ name: 'deno', ReconnectingWebSocket, WebSocketServer });
