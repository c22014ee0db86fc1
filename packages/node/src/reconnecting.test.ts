// The shared reconnecting-client suite, run against the Node adapter.
import { defineReconnectSuite } from '@fullduplex/testkit/adapter/reconnect';
import { ReconnectingWebSocket, WebSocketServer } from './index.ts';

defineReconnectSuite({ name: 'node', ReconnectingWebSocket, WebSocketServer });
