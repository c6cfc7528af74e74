import { createHash, timingSafeEqual } from 'node:crypto';
import {
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';

/** Services anyone may call without the token: load balancers and probes need health. */
const OPEN_SERVICES = ['/grpc.health.v1.Health/'];

/**
 * Checks `authorization: Bearer <token>` on every call except health. Both sides are hashed before
 * the comparison so it takes constant time whatever the lengths.
 */
export function createAuthInterceptor(token: string): ServerInterceptor {
  const expected = createHash('sha256').update(token).digest();
  return (method, call: ServerInterceptingCallInterface) => {
    if (OPEN_SERVICES.some((prefix) => method.path.startsWith(prefix)))
      return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const header = metadata.get('authorization')[0];
            const problem = checkBearer(typeof header === 'string' ? header : undefined, expected);
            if (problem) {
              // Fresh trailers: the request's metadata holds the client's credential, and nothing
              // a client sent as one is ever sent back.
              call.sendStatus({ code: status.UNAUTHENTICATED, details: problem, metadata: new Metadata() });
              return;
            }
            // The handlers have no use for the token; past this point no code can log or store it.
            metadata.remove('authorization');
            mdNext(metadata);
          },
        });
      },
    });
  };
}

function checkBearer(header: string | undefined, expected: Buffer): string | undefined {
  if (!header)
    return 'missing token: send metadata "authorization: Bearer <token>" (the token is in the agent URL)';
  const match = /^Bearer (.+)$/.exec(header);
  if (!match?.[1]) return 'malformed authorization metadata: expected "Bearer <token>"';
  const given = createHash('sha256').update(match[1]).digest();
  return timingSafeEqual(given, expected) ? undefined : "wrong token: it does not match the agent's token";
}
