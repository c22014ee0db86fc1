// The shared adapter conformance suite, run against the Bun adapter under `bun test`.
import { defineAdapterSuite } from '@fullduplex/testkit/adapter';
import { connect, WebSocketServer } from './index.ts';

defineAdapterSuite({ name: 'bun', WebSocketServer, connect });
