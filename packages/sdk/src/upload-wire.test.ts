import { UploadBlobsRequest } from '@gpulink/proto';
import { describe, expect, it } from 'vitest';
import { encodeUploadChunk } from './upload-wire.js';

const sha = 'ab'.repeat(32);

describe('encodeUploadChunk', () => {
  it.each([
    ['a first chunk', { sha256: sha, offset: 0, data: Buffer.from('hello'), sizeBytes: 5 }],
    [
      'a chunk deep in a large blob',
      { sha256: sha, offset: 2 ** 40 + 3, data: Buffer.alloc(70_000, 7), sizeBytes: 2 ** 41 },
    ],
    [
      'varints at their byte boundaries',
      { sha256: sha, offset: 127, data: Buffer.alloc(128, 1), sizeBytes: 16_384 },
    ],
    ['an empty chunk', { sha256: sha, offset: 0, data: Buffer.alloc(0), sizeBytes: 0 }],
  ])('gives the bytes the generated code gives for %s', (_name, chunk) => {
    const ours = encodeUploadChunk(chunk);
    expect(ours).toEqual(Buffer.from(UploadBlobsRequest.encode(chunk).finish()));
    const back = UploadBlobsRequest.decode(ours);
    expect(back.sha256).toBe(chunk.sha256);
    expect(back.offset).toBe(chunk.offset);
    expect(Buffer.from(back.data)).toEqual(chunk.data);
    expect(back.sizeBytes).toBe(chunk.sizeBytes);
  });
});
