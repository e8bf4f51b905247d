export { UdpTransport, type UdpTransportOptions, type UdpTransportStats } from './udp-transport.js';
