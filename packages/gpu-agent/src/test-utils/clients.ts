import { AgentServiceClient, DataServiceClient, type JobEvent, JobServiceClient } from '@gpulink/proto';
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

/** Every event of WatchJob until the stream ends, as canonical JSON objects for easy assertions. */
export function collectEvents(
  c: ReturnType<typeof rawClients>,
  jobId: string,
  options: { afterSeq?: number; replayOnly?: boolean; onEvent?: (e: JobEvent) => void } = {},
): Promise<JobEvent[]> {
  return new Promise((resolve, reject) => {
    const events: JobEvent[] = [];
    const stream = c.jobs.watchJob(
      {
        jobId,
        afterSeq: options.afterSeq ?? 0,
        replayOnly: options.replayOnly ?? false,
        maxMessageBytes: 0,
      },
      c.metadata(),
    );
    stream.on('data', (r: { events: JobEvent[] }) => {
      for (const event of r.events) {
        events.push(event);
        options.onEvent?.(event);
      }
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(events));
  });
}
