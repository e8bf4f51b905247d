import { transportConformance } from '@grapevine/testkit';
import { WsTransport } from '@grapevine/transport-ws';
import { appServer, closeServer } from './helpers.js';

const loopback = { host: '127.0.0.1', port: 0 };

transportConformance('WsTransport (own listener)', async () => ({
  a: new WsTransport({ listen: loopback }),
  b: new WsTransport({ listen: loopback }),
}));

transportConformance('WsTransport (mounted on an http server)', async () => {
  const servers = [await appServer(), await appServer()] as const;
  return {
    a: new WsTransport({ server: servers[0], path: '/cluster/gossip' }),
    b: new WsTransport({ server: servers[1], path: '/cluster/gossip' }),
    cleanup: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
});
