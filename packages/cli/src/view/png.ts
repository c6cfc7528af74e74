// Reads the pixels of a PNG: what the sixel encoder needs, since sixel terminals take pixels, not
// files. Only the forms matplotlib and PIL write for plots: 8-bit greyscale, RGB or RGBA (with or
// without alpha), not interlaced.
import { inflateSync } from 'node:zlib';

export interface Pixels {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel, rows top to bottom. */
  rgba: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Channels per color type: 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function isPng(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 8)).equals(SIGNATURE);
}

/** The width and height from a PNG's header. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  if (!isPng(bytes)) throw new Error('not a PNG file');
  const b = Buffer.from(bytes);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

export function decodePng(bytes: Uint8Array): Pixels {
  const b = Buffer.from(bytes);
  const { width, height } = pngSize(b);
  const depth = b[24];
  const colorType = b[25] ?? -1;
  const interlace = b[28];
  const channels = CHANNELS[colorType];
  if (depth !== 8 || channels === undefined || interlace !== 0) {
    throw new Error(`unsupported PNG (bit depth ${depth}, color type ${colorType}, interlace ${interlace})`);
  }
  const idat: Buffer[] = [];
  for (let at = 8; at < b.length; ) {
    const length = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') idat.push(b.subarray(at + 8, at + 8 + length));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) unfilter(raw, y, stride, channels, rows);
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const p = i * channels;
    const grey = channels <= 2;
    rgba[i * 4] = rows[p] ?? 0;
    rgba[i * 4 + 1] = rows[grey ? p : p + 1] ?? 0;
    rgba[i * 4 + 2] = rows[grey ? p : p + 2] ?? 0;
    rgba[i * 4 + 3] = channels === 4 ? (rows[p + 3] ?? 255) : channels === 2 ? (rows[p + 1] ?? 255) : 255;
  }
  return { width, height, rgba };
}

/** Undoes row `y`'s filter (PNG spec 9.2) from `raw` into `out`. */
function unfilter(raw: Buffer, y: number, stride: number, bpp: number, out: Uint8Array): void {
  const filter = raw[y * (stride + 1)];
  const src = y * (stride + 1) + 1;
  const dst = y * stride;
  for (let x = 0; x < stride; x++) {
    const a = x >= bpp ? (out[dst + x - bpp] ?? 0) : 0;
    const up = y > 0 ? (out[dst + x - stride] ?? 0) : 0;
    const c = x >= bpp && y > 0 ? (out[dst + x - stride - bpp] ?? 0) : 0;
    const v = raw[src + x] ?? 0;
    let pred = 0;
    if (filter === 1) pred = a;
    else if (filter === 2) pred = up;
    else if (filter === 3) pred = (a + up) >> 1;
    else if (filter === 4) {
      const p = a + up - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - up);
      const pc = Math.abs(p - c);
      pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
    } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
    out[dst + x] = (v + pred) & 0xff;
  }
}
