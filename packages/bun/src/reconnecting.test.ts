// The shared reconnecting-client suite, run against the Bun adapter.
import { defineReconnectSuite } from '@fullduplex/testkit/adapter/reconnect';
import { ReconnectingWebSocket, WebSocketServer } from './index.ts';

defineReconnectSuite({ name: 'bun', ReconnectingWebSocket, WebSocketServer });
