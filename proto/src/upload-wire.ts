// UploadBlobs chunks on the wire, by hand, for the one message that carries gigabytes. The generated
// code copies a chunk's data on every step: its encoder writes the data into a growing writer and
// copies it out again, and its decoder (env=node) copies the data out of the message it decodes.
// Here the sender reads a file straight into the message it sends, and the receiver's data is a view
// of the message grpc-js gave it. upload-wire.test.ts holds both to the generated code's bytes.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { UploadBlobsRequest } from './gen/gpulink/v1/data.js';

/** Field numbers of gpulink.v1.UploadBlobsRequest (gpulink/v1/data.proto), as wire tags. */
const SHA256_TAG = (1 << 3) | WireType.LengthDelimited;
const OFFSET_TAG = (2 << 3) | WireType.Varint;
const DATA_TAG = (3 << 3) | WireType.LengthDelimited;
const SIZE_BYTES_TAG = (4 << 3) | WireType.Varint;

/** An encoded chunk whose `data` is still to be filled: `data` is the part of `message` it occupies. */
export interface UploadChunkMessage {
  /** The whole encoded UploadBlobsRequest. */
  message: Buffer;
  /** `dataBytes` bytes of `message`, for the caller to fill (e.g. with a file read). */
  data: Buffer;
}

/**
 * Lays out one UploadBlobsRequest with room for `dataBytes` of data, for the caller to fill in place.
 * The bytes are those the generated encoder gives once `data` holds the chunk.
 */
export function allocUploadChunk(
  chunk: Omit<UploadBlobsRequest, 'data'>,
  dataBytes: number,
): UploadChunkMessage {
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
  if (dataBytes > 0) {
    middle.push(DATA_TAG);
    pushVarint(middle, dataBytes);
  }
  const tail: number[] = [];
  if (chunk.sizeBytes > 0) {
    tail.push(SIZE_BYTES_TAG);
    pushVarint(tail, chunk.sizeBytes);
  }
  const dataAt = head.length + sha.length + middle.length;
  const message = Buffer.allocUnsafe(dataAt + dataBytes + tail.length);
  message.set(head, 0);
  sha.copy(message, head.length);
  message.set(middle, head.length + sha.length);
  message.set(tail, dataAt + dataBytes);
  return { message, data: message.subarray(dataAt, dataAt + dataBytes) };
}

/** Encodes a chunk whose data is already in memory (one copy of it). */
export function encodeUploadChunk(chunk: UploadBlobsRequest): Buffer {
  const { message, data } = allocUploadChunk(chunk, chunk.data.length);
  chunk.data.copy(data);
  return message;
}

/**
 * Decodes a chunk; its `data` is a view of `bytes`, not a copy (grpc-js hands each message over in a
 * buffer of its own). Unknown fields are skipped, as the generated decoder does; malformed bytes throw.
 */
export function decodeUploadChunk(bytes: Buffer): UploadBlobsRequest {
  const reader = new BinaryReader(bytes);
  const chunk: UploadBlobsRequest = { sha256: '', offset: 0, data: Buffer.alloc(0), sizeBytes: 0 };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) chunk.sha256 = reader.string();
    else if (field === 2 && wireType === WireType.Varint)
      chunk.offset = safeNumber(reader.uint64(), 'offset');
    else if (field === 3 && wireType === WireType.LengthDelimited) {
      const view = reader.bytes();
      chunk.data = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    } else if (field === 4 && wireType === WireType.Varint)
      chunk.sizeBytes = safeNumber(reader.uint64(), 'size_bytes');
    else reader.skip(wireType, field);
  }
  return chunk;
}

function safeNumber(value: bigint | string, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`${field} ${value} is past 2^53`);
  return n;
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
