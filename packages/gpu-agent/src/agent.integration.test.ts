// A real agent process, real gRPC, no training: authentication, validation, datasets.
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AgentServiceService,
  type CommitDatasetResponse,
  DataServiceService,
  JobServiceService,
  JobSpec,
  type PrepareUploadResponse,
} from '@gpulink/proto';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECEIVE_WINDOW_BYTES } from './rpc/receive-window.js';
import { rawClients, unaryCall } from './test-utils/clients.js';
import { startTestAgent, type TestAgent } from './testing.js';

let agent: TestAgent;
let c: ReturnType<typeof rawClients>;

beforeAll(async () => {
  agent = await startTestAgent();
  c = rawClients(agent.port, agent.token);
});
afterAll(async () => {
  c?.close();
  await agent?.stop();
});

const submit = (spec: unknown) =>
  unaryCall((cb) =>
    c.jobs.submitJob({ spec: JobSpec.fromPartial(spec as JobSpec), idempotencyKey: '' }, c.metadata(), cb),
  );

async function expectStatus(p: Promise<unknown>, code: status, text: string | RegExp): Promise<void> {
  const error = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as ServiceError | undefined;
  expect(error, 'the call should have failed').toBeDefined();
  expect(status[error?.code ?? 0]).toBe(status[code]);
  expect(error?.details).toMatch(text);
}

describe('HTTP/2', () => {
  it('lets a client send 16 MiB before it must wait for the agent (uploads), not 64 KiB', async () => {
    const session = http2Connect(`http://127.0.0.1:${agent.port}`);
    try {
      // The agent's SETTINGS frames (Node's defaults first, then the raised window), for up to 5 s.
      const initialWindowSize = await new Promise<number | undefined>((resolve, reject) => {
        const timer = setTimeout(() => resolve(session.remoteSettings.initialWindowSize), 5_000);
        session.on('error', reject);
        session.on('remoteSettings', (settings) => {
          if (settings.initialWindowSize !== RECEIVE_WINDOW_BYTES) return;
          clearTimeout(timer);
          resolve(settings.initialWindowSize);
        });
      });
      expect(initialWindowSize).toBe(RECEIVE_WINDOW_BYTES);
      // And the connection's window, raised by a WINDOW_UPDATE that may come a moment later.
      for (let i = 0; i < 50 && (session.state.remoteWindowSize ?? 0) < RECEIVE_WINDOW_BYTES; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(session.state.remoteWindowSize).toBeGreaterThanOrEqual(RECEIVE_WINDOW_BYTES);
    } finally {
      session.close();
    }
  });
});

describe('authentication', () => {
  const services = [
    ['AgentService', AgentServiceService],
    ['JobService', JobServiceService],
    ['DataService', DataServiceService],
  ] as const;
  // Every method of every service, from the generated definitions: a new RPC cannot slip through.
  const methods = services.flatMap(([, def]) => Object.values(def).map((m) => m));

  it.each([
    ['no token', undefined, /missing token/],
    ['a wrong token', 'x'.repeat(32), /wrong token/],
  ])('refuses every RPC with %s', async (_label, token, message) => {
    const { Client: GrpcClient, credentials } = await import('@grpc/grpc-js');
    const raw = new GrpcClient(`127.0.0.1:${agent.port}`, credentials.createInsecure());
    try {
      for (const m of methods) {
        const md = new Metadata();
        if (token) md.set('authorization', `Bearer ${token}`);
        // Whatever else the client sent must not come back either (it may be a credential too).
        md.set('x-client-secret', 'do-not-echo-this');
        md.set('x-client-secret-bin', Buffer.from('binary-secret'));
        const error = await new Promise<ServiceError>((resolve) => {
          const serialize = (x: Buffer) => x;
          const deserialize = (x: Buffer) => x;
          if (m.requestStream) {
            const s = raw.makeClientStreamRequest(m.path, serialize, deserialize, md, (e) =>
              resolve(e as ServiceError),
            );
            s.end();
          } else if (m.responseStream) {
            const s = raw.makeServerStreamRequest(m.path, serialize, deserialize, Buffer.alloc(0), md);
            s.on('error', resolve);
            s.on('data', () => undefined);
          } else {
            raw.makeUnaryRequest(m.path, serialize, deserialize, Buffer.alloc(0), md, (e) =>
              resolve(e as ServiceError),
            );
          }
        });
        expect(error?.code, m.path).toBe(status.UNAUTHENTICATED);
        expect(error.details).toMatch(message);
        // Nothing the client sent comes back: not in the trailers, not in the message.
        const trailerKeys = Object.keys(error.metadata?.getMap() ?? {});
        for (const sent of Object.keys(md.getMap()).concat('user-agent'))
          expect(trailerKeys, m.path).not.toContain(sent);
        const echoed = `${JSON.stringify(error.metadata?.toJSON() ?? {})} ${error.details} ${error.message}`;
        for (const sent of [token, 'do-not-echo-this', 'binary-secret'])
          if (sent) expect(echoed, m.path).not.toContain(sent);
      }
    } finally {
      raw.close();
    }
  });

  it('keeps grpc.health.v1 open', async () => {
    const { Client: GrpcClient, credentials } = await import('@grpc/grpc-js');
    const raw = new GrpcClient(`127.0.0.1:${agent.port}`, credentials.createInsecure());
    // HealthCheckResponse { status: SERVING (1) } is the two bytes 08 01.
    const reply = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        new Metadata(),
        (e, r) => (e ? reject(e) : resolve(r as Buffer)),
      ),
    );
    raw.close();
    expect([...reply]).toEqual([8, 1]);
  });
});

describe('SubmitJob validation', () => {
  const digits = { source: { $case: 'agentPath', value: tmpdir() } };
  const vision = (over: object) => ({
    task: { $case: 'vision', value: { data: digits, epochs: 1, arch: 'resnet18', ...over } },
  });

  it.each([
    ['no task', {}, status.INVALID_ARGUMENT, /spec\.task/],
    ['zero epochs', vision({ epochs: 0 }), status.INVALID_ARGUMENT, /epochs: must be at least 1/],
    [
      'a regex without a group',
      vision({ labels: { method: { $case: 'fileNameRegex', value: { pattern: '^\\w+\\.png$' } } } }),
      status.INVALID_ARGUMENT,
      /capture group/,
    ],
    [
      'a broken regex',
      vision({ labels: { method: { $case: 'fileNameRegex', value: { pattern: '^(unclosed' } } } }),
      status.INVALID_ARGUMENT,
      /not a valid regular expression/,
    ],
    [
      'a missing dataset',
      vision({ data: { source: { $case: 'datasetId', value: `ds_${'0'.repeat(24)}` } } }),
      status.NOT_FOUND,
      /does not exist/,
    ],
    [
      'a missing agent path',
      vision({ data: { source: { $case: 'agentPath', value: '/nonexistent/gpulink' } } }),
      status.NOT_FOUND,
      /does not exist/,
    ],
    [
      'a relative agent path',
      vision({ data: { source: { $case: 'agentPath', value: 'rel' } } }),
      status.INVALID_ARGUMENT,
      /absolute/,
    ],
    [
      'an unknown metric',
      vision({ metrics: ['accuracy', 'vibes'] }),
      status.INVALID_ARGUMENT,
      /unknown metric "vibes"/,
    ],
    [
      'a negative lr',
      vision({ lr: { value: { $case: 'fixed', value: -1 } } }),
      status.INVALID_ARGUMENT,
      /lr\.fixed/,
    ],
    [
      'a subdir escaping the root',
      vision({ data: { ...digits, subdir: '../etc' } }),
      status.INVALID_ARGUMENT,
      /"\.\." segment/,
    ],
    [
      'a predict of an unknown job',
      { task: { $case: 'predict', value: { modelJobId: 'job_0000000000deadbeef', inputs: digits } } },
      status.NOT_FOUND,
      /does not exist/,
    ],
  ])('refuses %s', async (_label, spec, code, message) => {
    await expectStatus(submit(spec), code, message);
  });

  it('refuses a tabular target that is not a CSV column, naming the columns', async () => {
    const dir = join(tmpdir(), `gpulink-csv-${process.pid}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'train.csv'), 'age,income,label\n1,2,yes\n');
    const spec = {
      task: {
        $case: 'tabular',
        value: {
          data: { source: { $case: 'agentPath', value: dir } },
          csvPath: 'train.csv',
          target: 'salary',
          epochs: 1,
        },
      },
    };
    await expectStatus(
      submit(spec),
      status.INVALID_ARGUMENT,
      /"salary" is not in the CSV header \(age, income, label\)/,
    );
  });

  it('refuses fields this agent does not know, instead of ignoring them', async () => {
    // Field 99 of JobSpec (length-delimited), as a newer client might send: spec is field 1.
    const extra = Buffer.from([0x9a, 0x06, 0x02, 0x68, 0x69]);
    const spec = Buffer.from(JobSpec.encode(JobSpec.fromPartial(vision({}) as JobSpec)).finish());
    const inner = Buffer.concat([spec, extra]);
    const patched = Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
    const { Client: GrpcClient, credentials } = await import('@grpc/grpc-js');
    const raw = new GrpcClient(`127.0.0.1:${agent.port}`, credentials.createInsecure());
    const p = new Promise((resolve, reject) =>
      raw.makeUnaryRequest(
        '/gpulink.v1.JobService/SubmitJob',
        (x: Buffer) => x,
        (x: Buffer) => x,
        patched,
        c.metadata(),
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    await expectStatus(p, status.INVALID_ARGUMENT, /unknown field\(s\) spec\.\(field 99\)/);
    raw.close();
  });

  it('records nothing for refused specs', async () => {
    const listed = await unaryCall<{ jobs: unknown[] }>((cb) =>
      c.jobs.listJobs({ pageSize: 0, pageToken: '', states: [], tags: [] }, c.metadata(), cb),
    );
    expect(listed.jobs).toEqual([]);
    expect(await readdir(join(agent.stateDir, 'jobs'))).toEqual([]);
  });
});

describe('datasets', () => {
  const file = (path: string, text: string) => ({
    path,
    sizeBytes: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
  });

  it.each([['../escape.txt'], ['/etc/passwd'], ['a/./b'], ['a\\b']])(
    'refuses the manifest path %j and writes nothing',
    async (path) => {
      await expectStatus(
        unaryCall((cb) => c.data.prepareUpload({ name: 'x', files: [file(path, 'x')] }, c.metadata(), cb)),
        status.INVALID_ARGUMENT,
        /path/,
      );
      await expectStatus(
        unaryCall((cb) => c.data.commitDataset({ name: 'x', files: [file(path, 'x')] }, c.metadata(), cb)),
        status.INVALID_ARGUMENT,
        /path/,
      );
      expect(await readdir(join(agent.stateDir, 'datasets'))).toEqual([]);
      expect(await readdir(join(agent.stateDir, 'uploads'))).toEqual([]);
    },
  );

  it('uploads, dedups and commits a dataset; a wrong hash is DATA_LOSS', async () => {
    const files = [file('a/1.txt', 'one'), file('b/2.txt', 'two two')];
    const prep = await unaryCall<PrepareUploadResponse>((cb) =>
      c.data.prepareUpload({ name: 'tiny', files }, c.metadata(), cb),
    );
    expect(prep.missing).toHaveLength(2);
    const upload = (chunks: Array<{ sha256: string; offset: number; data: Buffer; sizeBytes: number }>) =>
      new Promise<{ completedSha256: string[] }>((resolve, reject) => {
        const s = c.data.uploadBlobs(c.metadata(), (e, r) =>
          e ? reject(e) : resolve(r as { completedSha256: string[] }),
        );
        for (const ch of chunks) s.write(ch);
        s.end();
      });
    await expectStatus(
      upload([{ sha256: files[0]!.sha256, offset: 0, data: Buffer.from('eno'), sizeBytes: 3 }]),
      status.DATA_LOSS,
      /hash/,
    );
    const done = await upload([
      { sha256: files[0]!.sha256, offset: 0, data: Buffer.from('one'), sizeBytes: 3 },
      { sha256: files[1]!.sha256, offset: 0, data: Buffer.from('two '), sizeBytes: 7 },
      { sha256: files[1]!.sha256, offset: 4, data: Buffer.from('two'), sizeBytes: 7 },
    ]);
    expect(done.completedSha256.sort()).toEqual([files[0]!.sha256, files[1]!.sha256].sort());
    const again = await unaryCall<PrepareUploadResponse>((cb) =>
      c.data.prepareUpload({ name: 'tiny', files }, c.metadata(), cb),
    );
    expect(again.missing).toEqual([]);
    const committed = await unaryCall<CommitDatasetResponse>((cb) =>
      c.data.commitDataset({ name: 'tiny', files }, c.metadata(), cb),
    );
    expect(committed.dataset).toMatchObject({ id: prep.datasetId, fileCount: 2, sizeBytes: 10 });
  });

  it('refuses to commit a dataset whose blobs are not all uploaded, and leaves nothing behind', async () => {
    const before = await readdir(join(agent.stateDir, 'datasets'));
    // 'one' is stored by the test above; 'never sent' is not.
    const files = [file('kept/1.txt', 'one'), file('gone/2.txt', 'never sent')];
    await expectStatus(
      unaryCall((cb) => c.data.commitDataset({ name: 'partial', files }, c.metadata(), cb)),
      status.FAILED_PRECONDITION,
      `1 blob(s) are not uploaded yet, e.g. ${files[1]?.sha256}: call UploadBlobs first`,
    );
    expect(await readdir(join(agent.stateDir, 'datasets'))).toEqual(before);
  });

  it('commits in PrepareUpload when asked and every blob is stored, and only then', async () => {
    const texts = ['stored one', 'stored two'];
    const stored = [file('x/1.txt', texts[0] as string), file('y/2.txt', texts[1] as string)];
    await new Promise((resolve, reject) => {
      const s = c.data.uploadBlobs(c.metadata(), (e, r) => (e ? reject(e) : resolve(r)));
      for (const [i, f] of stored.entries())
        s.write({
          sha256: f.sha256,
          offset: 0,
          data: Buffer.from(texts[i] as string),
          sizeBytes: f.sizeBytes,
        });
      s.end();
    });
    const prepare = (files: ReturnType<typeof file>[], commitIfComplete: boolean) =>
      unaryCall<PrepareUploadResponse>((cb) =>
        c.data.prepareUpload({ name: 'in-one-call', files, commitIfComplete }, c.metadata(), cb),
      );
    const before = await readdir(join(agent.stateDir, 'datasets'));
    const notAsked = await prepare(stored, false);
    expect(notAsked.dataset).toBeUndefined();
    const partial = await prepare([...stored, file('z/3.txt', 'not yet')], true);
    expect(partial.dataset).toBeUndefined();
    expect(partial.missing).toHaveLength(1);
    expect(await readdir(join(agent.stateDir, 'datasets'))).toEqual(before);

    const complete = await prepare(stored, true);
    expect(complete.missing).toEqual([]);
    expect(complete.dataset).toMatchObject({ id: complete.datasetId, name: 'in-one-call', fileCount: 2 });
    const committed = await unaryCall<CommitDatasetResponse>((cb) =>
      c.data.commitDataset({ name: 'in-one-call', files: stored }, c.metadata(), cb),
    );
    expect(committed.dataset).toEqual(complete.dataset);
  });

  it('refuses a manifest that gives one content two sizes', async () => {
    const one = file('a.txt', 'one');
    await expectStatus(
      unaryCall((cb) =>
        c.data.commitDataset(
          { name: 'x', files: [one, { ...one, path: 'b.txt', sizeBytes: 4 }] },
          c.metadata(),
          cb,
        ),
      ),
      status.INVALID_ARGUMENT,
      `files: sha256 ${one.sha256} is listed with two different sizes`,
    );
  });
});
