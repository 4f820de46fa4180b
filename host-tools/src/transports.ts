/**
 * The gateway's transports, registered in one place: one line each. A new transport is one
 * module with a `TransportDefinition` and one line here (docs/architecture.md#where-to-add).
 */
import { createHttpApi } from './gateway-http.js';
import { createConsole } from './console-routes.js';
import { createTcpIngest } from './gateway-tcp.js';
import { createUdpIngest } from './gateway-udp.js';
import { bindUdp, DEFAULT_HTTP_PORT, DEFAULT_TCP_PORT, DEFAULT_UDP_PORT, listen, parseEndpoint, type Endpoint } from './endpoint.js';
import { channels as builtInChannels, DEFAULT_MAX_FRAME_BYTES, SENDER_HINT_BYTES } from '@sceau/protocol';
import { registerTransport, type TransportDefinition } from './transport-registry.js';
import { mqttTransport } from './transport-mqtt.js';

const wanted = (value: unknown): boolean => value !== undefined && value !== false;

export const httpTransport: TransportDefinition = {
  name: 'http',
  wanted: (o) => wanted(o.http),
  check: (o) => void parseEndpoint(o.http as string | number | Endpoint, DEFAULT_HTTP_PORT, '--http'),
  async start({ options, store, ingestor, metrics, token, renderMetrics, log, intake }) {
    // The store's backend gives the console's queries (OpenedStore.consoleQueries); one without them serves no console.
    const queries = options.console === false ? undefined : store.consoleQueries?.();
    const webConsole = queries === undefined ? undefined : createConsole({ store, queries, ingestor, metrics, channels: options.channels ?? builtInChannels, tokenRequired: token !== undefined, consolePublic: options.consolePublic });
    if (webConsole !== undefined) ingestor.observer = webConsole.hub;
    const server = createHttpApi({
      console: webConsole,
      store,
      ingestor,
      metrics,
      token,
      renderMetrics,
      log,
      intake,
      keepRadioMetadata: options.keepRadioMetadata,
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
      ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
      ...(options.bodyTimeoutMs === undefined ? {} : { requestTimeoutMs: options.bodyTimeoutMs }),
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    });
    const e = await listen(server, parseEndpoint(options.http as string | number | Endpoint, DEFAULT_HTTP_PORT, '--http'), '--http');
    const hostInUrl = e.host.includes(':') ? `[${e.host}]` : e.host;
    return {
      address: { ...e, url: `http://${hostInUrl}:${e.port}` },
      stop: () => {
        webConsole?.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        return closed;
      },
      // Idle keep-alive sockets would hold close() open; in-flight requests were answered.
      afterDrain: () => server.closeAllConnections(),
    };
  },
};

export const tcpTransport: TransportDefinition = {
  name: 'tcp',
  wanted: (o) => wanted(o.tcp),
  check: (o) => void parseEndpoint(o.tcp as string | number | Endpoint, DEFAULT_TCP_PORT, '--tcp'),
  async start({ options, metrics, intake, log }) {
    const server = createTcpIngest({
      metrics,
      intake,
      log,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      ...(options.bodyTimeoutMs === undefined ? {} : { frameTimeoutMs: options.bodyTimeoutMs }),
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    });
    const address = await listen(server, parseEndpoint(options.tcp as string | number | Endpoint, DEFAULT_TCP_PORT, '--tcp'), '--tcp');
    return { address, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  },
};

export const udpTransport: TransportDefinition = {
  name: 'udp',
  wanted: (o) => wanted(o.udp),
  check: (o) => void parseEndpoint(o.udp as string | number | Endpoint, DEFAULT_UDP_PORT, '--udp'),
  async start({ options, metrics, intake, log }) {
    const endpoint = parseEndpoint(options.udp as string | number | Endpoint, DEFAULT_UDP_PORT, '--udp');
    const socket = createUdpIngest({ metrics, intake, log, ipv6: endpoint.host.includes(':'), maxDatagramBytes: (options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES) + 1 + SENDER_HINT_BYTES });
    const address = await bindUdp(socket, endpoint, '--udp');
    return { address, stop: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
  },
};

registerTransport(httpTransport);
registerTransport(tcpTransport);
registerTransport(udpTransport);
registerTransport(mqttTransport);
