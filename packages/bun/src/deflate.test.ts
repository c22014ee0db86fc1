// The shared permessage-deflate suite, run against the Bun adapter.
import { defineDeflateSuite } from '@fullduplex/testkit/adapter/deflate';
import { connect, WebSocketServer } from './index.ts';

defineDeflateSuite({ name: 'bun', WebSocketServer, connect });
