// The shared permessage-deflate suite, run against the Node adapter.
import { defineDeflateSuite } from '@fullduplex/testkit/adapter/deflate';
import { connect, WebSocketServer } from './index.ts';

defineDeflateSuite({ name: 'node', WebSocketServer, connect });
