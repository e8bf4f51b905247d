import { describe, expect, it } from 'vitest';
import { canonicalPeerUrl, hostPortOf } from '@grapevine/transport-ws';

describe('WebSocket peer addresses', () => {
  it('canonicalises URLs and host:port forms', () => {
    const p = '/grapevine';
    expect(canonicalPeerUrl('127.0.0.1:7946', p)).toBe('ws://127.0.0.1:7946/grapevine');
    expect(canonicalPeerUrl('[::1]:7946', p)).toBe('ws://[::1]:7946/grapevine');
    expect(canonicalPeerUrl('Node1.Example:80', p)).toBe('ws://node1.example/grapevine');
    expect(canonicalPeerUrl('node1:8443', p, 'wss')).toBe('wss://node1:8443/grapevine');
    expect(canonicalPeerUrl('WS://Host:8080', p)).toBe('ws://host:8080/grapevine');
    expect(canonicalPeerUrl('ws://host:8080/', p)).toBe('ws://host:8080/grapevine');
    expect(canonicalPeerUrl('wss://host/cluster?x=1', p)).toBe('wss://host/cluster?x=1');
    expect(canonicalPeerUrl('wss://host:443/g', p)).toBe('wss://host/g');
    expect(canonicalPeerUrl('ws://[0:0::1]:9/g', p)).toBe('ws://[::1]:9/g');
  });

  it('refuses what it cannot dial', () => {
    for (const bad of ['', 'no-port', 'host:notaport', 'host:99999', '[::1', 'a b:1', '127.0.0.1:0', 'http://h:1/', 'ws://u:p@h:1/', 'ws://h:1/#x', 'ws://:1/']) {
      expect(() => canonicalPeerUrl(bad, '/grapevine'), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    }
  });

  it('prints host:port with the scheme\'s default port', () => {
    expect(hostPortOf('ws://h/grapevine')).toBe('h:80');
    expect(hostPortOf('wss://h/grapevine')).toBe('h:443');
    expect(hostPortOf('ws://[::1]:9/g')).toBe('[::1]:9');
  });
});
