// The transport contract (testkit) over node:net; Node-specific cases beside it.
import { defineTransportSuite } from '@fullduplex/testkit/adapter/transport';
import { nodeDialer } from './client.ts';

defineTransportSuite({ name: 'node', dial: nodeDialer });
