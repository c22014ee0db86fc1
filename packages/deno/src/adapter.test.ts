// The shared adapter conformance suite, run against the Deno adapter (`deno test`).
import { defineAdapterSuite } from '@fullduplex/testkit/adapter';
import { connect, WebSocketServer } from './index.ts';

defineAdapterSuite({ name: 'deno', WebSocketServer, connect });
