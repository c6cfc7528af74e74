import { describe, expect, it } from 'vitest';
import { UploadBlobsRequest } from './gen/gpulink/v1/data.js';
import { allocUploadChunk, decodeUploadChunk, encodeUploadChunk } from './upload-wire.js';

const sha = 'ab'.repeat(32);

const chunks: Array<[string, UploadBlobsRequest]> = [
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
];

describe('UploadBlobs chunks by hand', () => {
  it.each(chunks)('encode to the bytes the generated code gives for %s', (_name, chunk) => {
    const ours = encodeUploadChunk(chunk);
    expect(ours).toEqual(Buffer.from(UploadBlobsRequest.encode(chunk).finish()));
  });

  it.each(chunks)('decode what the generated code encodes for %s, data as a view', (_name, chunk) => {
    const bytes = Buffer.from(UploadBlobsRequest.encode(chunk).finish());
    const back = decodeUploadChunk(bytes);
    expect({ ...back, data: Buffer.from(back.data) }).toEqual(chunk);
    if (chunk.data.length > 0) expect(back.data.buffer).toBe(bytes.buffer);
  });

  it('lay out a chunk whose data is filled in place, as a file read does', () => {
    const { message, data } = allocUploadChunk({ sha256: sha, offset: 300, sizeBytes: 1 << 20 }, 4096);
    expect(data.buffer).toBe(message.buffer);
    data.fill(0x5a);
    const expected = { sha256: sha, offset: 300, data: Buffer.alloc(4096, 0x5a), sizeBytes: 1 << 20 };
    expect(message).toEqual(Buffer.from(UploadBlobsRequest.encode(expected).finish()));
  });

  it('skip fields they do not know, as the generated decoder does', () => {
    const known = Buffer.from(UploadBlobsRequest.encode(chunks[0]?.[1] as UploadBlobsRequest).finish());
    // Field 9 (varint 1) and field 10 (length-delimited "xy"), then the known fields.
    const withUnknown = Buffer.concat([Buffer.from([9 << 3, 1, (10 << 3) | 2, 2, 0x78, 0x79]), known]);
    expect(decodeUploadChunk(withUnknown)).toEqual(UploadBlobsRequest.decode(withUnknown));
  });

  it('refuse bytes that are not a message, and offsets past 2^53', () => {
    expect(() => decodeUploadChunk(Buffer.from([(3 << 3) | 2, 50, 1, 2]))).toThrow();
    expect(() => decodeUploadChunk(Buffer.from([0, 0]))).toThrow();
    const huge = Buffer.from([2 << 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(() => decodeUploadChunk(huge)).toThrow(/offset .* past 2\^53/);
  });
});
