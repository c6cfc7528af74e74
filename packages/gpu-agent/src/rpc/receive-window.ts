import type { Http2SecureServer, Http2Server, Http2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';

/**
 * Bytes a client may send on one connection before the agent acknowledges them. Node's HTTP/2
 * default is 64 KiB per connection and per stream: an upload then waits on the agent's event loop
 * every 64 KiB, which held a 1 GiB upload to about 85 MiB/s on loopback here (about 140 MiB/s with
 * this window; `npm run bench -- --only upload`).
 */
export const RECEIVE_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * Raises the HTTP/2 receive windows of every connection `server` accepts. grpc-js has no option for
 * this, so its (internal) `createHttp2Server` is wrapped to set the windows on each new session.
 * Returns false, changing nothing, if a grpc-js release no longer has that method: the agent then
 * works as before, with slower uploads.
 */
export function raiseReceiveWindows(server: Server, bytes = RECEIVE_WINDOW_BYTES): boolean {
  const internals = server as unknown as {
    createHttp2Server?: (credentials: unknown) => Http2Server | Http2SecureServer;
  };
  const create = internals.createHttp2Server;
  if (typeof create !== 'function') return false;
  internals.createHttp2Server = function (this: Server, credentials: unknown) {
    const http2Server = create.call(this, credentials);
    http2Server.on('session', (session: Http2Session) => {
      session.setLocalWindowSize(bytes);
      session.settings({ initialWindowSize: bytes });
    });
    return http2Server;
  };
  return true;
}
