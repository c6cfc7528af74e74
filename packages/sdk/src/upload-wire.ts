// The bytes of one UploadBlobs chunk, written by hand: the generated encoder copies a chunk's data
// twice on its way to a Buffer (into its writer, then out of it), and uploads move gigabytes.
// upload-wire.test.ts checks these bytes against the generated decoder.
import type { UploadBlobsRequest } from '@gpulink/proto';

/** Field numbers and wire types of gpulink.v1.UploadBlobsRequest (proto/gpulink/v1/data.proto). */
const SHA256_TAG = (1 << 3) | 2;
const OFFSET_TAG = (2 << 3) | 0;
const DATA_TAG = (3 << 3) | 2;
const SIZE_BYTES_TAG = (4 << 3) | 0;

/** Encodes a chunk with one copy of its data. @internal */
export function encodeUploadChunk(chunk: UploadBlobsRequest): Buffer {
  const sha = Buffer.from(chunk.sha256, 'utf8');
  const head: number[] = [];
  if (sha.length > 0) {
    head.push(SHA256_TAG);
    pushVarint(head, sha.length);
  }
  const middle: number[] = [];
  if (chunk.offset > 0) {
    middle.push(OFFSET_TAG);
    pushVarint(middle, chunk.offset);
  }
  if (chunk.data.length > 0) {
    middle.push(DATA_TAG);
    pushVarint(middle, chunk.data.length);
  }
  const tail: number[] = [];
  if (chunk.sizeBytes > 0) {
    tail.push(SIZE_BYTES_TAG);
    pushVarint(tail, chunk.sizeBytes);
  }
  return Buffer.concat([Buffer.from(head), sha, Buffer.from(middle), chunk.data, Buffer.from(tail)]);
}

/** Appends `value` (a non-negative safe integer) as a protobuf varint. */
function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}
