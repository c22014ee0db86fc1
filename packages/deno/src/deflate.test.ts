// The shared permessage-deflate suite, run against the Deno adapter.
import { defineDeflateSuite } from '@fullduplex/testkit/adapter/deflate';
import { connect, WebSocketServer } from './index.ts';

defineDeflateSuite({ name: 'deno', WebSocketServer, connect });
