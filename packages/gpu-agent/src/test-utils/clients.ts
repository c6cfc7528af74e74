import { AgentServiceClient, DataServiceClient, JobServiceClient } from '@gpulink/proto';
import { type Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

/** Raw generated clients for the agent's own tests (users go through @gpulink/sdk). */
export function rawClients(port: number, token: string | undefined) {
  const address = `127.0.0.1:${port}`;
  const creds = credentials.createInsecure();
  const clients = {
    agent: new AgentServiceClient(address, creds),
    jobs: new JobServiceClient(address, creds),
    data: new DataServiceClient(address, creds),
  };
  const metadata = () => {
    const md = new Metadata();
    if (token !== undefined) md.set('authorization', `Bearer ${token}`);
    return md;
  };
  return {
    ...clients,
    metadata,
    close: () => {
      for (const client of Object.values(clients) as Client[]) client.close();
    },
  };
}

/** A generated unary call as a promise: `unaryCall((cb) => c.jobs.getJob(req, c.metadata(), cb))`. */
export function unaryCall<Res>(
  invoke: (cb: (e: ServiceError | null, r: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    invoke((error, response) => (error ? reject(error) : resolve(response))),
  );
}
