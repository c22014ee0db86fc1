// The shared adapter conformance suite, run against the Node adapter.
import { defineAdapterSuite } from '@fullduplex/testkit/adapter';
import { connect, WebSocketServer } from './index.ts';

defineAdapterSuite({ name: 'node', WebSocketServer, connect });
