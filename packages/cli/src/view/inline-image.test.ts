import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectImageProtocol, inlineImage, KITTY_CHUNK } from './inline-image.js';
import { decodePng, pngSize } from './png.js';

// fastai's lr_find plot as the worker saves it (plots.py, matplotlib's Agg): real PNG bytes.
const ESC = '\x1b';
const BEL = '\x07';
const png = readFileSync(new URL('../ui/fixtures/lr-find-plot.png', import.meta.url));

describe('which terminals get pictures', () => {
  it('tells the protocols apart by the environment', () => {
    expect(detectImageProtocol({ TERM: 'xterm-kitty' })).toBe('kitty');
    expect(detectImageProtocol({ KITTY_WINDOW_ID: '1', TERM: 'xterm-256color' })).toBe('kitty');
    expect(detectImageProtocol({ TERM_PROGRAM: 'iTerm.app' })).toBe('iterm');
    expect(detectImageProtocol({ TERM_PROGRAM: 'WezTerm' })).toBe('iterm');
    expect(detectImageProtocol({ TERM: 'foot' })).toBe('sixel');
    expect(detectImageProtocol({ TERM: 'xterm-256color' })).toBeUndefined();
    expect(detectImageProtocol({ TERM: 'xterm-kitty', TMUX: '/tmp/tmux-0/default,1,0' })).toBeUndefined();
    expect(detectImageProtocol({ TERM: 'xterm-256color', GPULINK_IMAGES: 'sixel' })).toBe('sixel');
    expect(detectImageProtocol({ TERM: 'xterm-kitty', GPULINK_IMAGES: 'none' })).toBeUndefined();
  });
});

describe('the escape sequences for a real PNG', () => {
  it('kitty: the PNG in 4096-character base64 chunks, displayed at once', () => {
    const out = inlineImage(png, 'kitty', { columns: 60 });
    expect(out.endsWith('\x1b\\\n')).toBe(true);
    const escapes = [...out.matchAll(new RegExp(`${ESC}_G([^;]*);([A-Za-z0-9+/=]*)${ESC}\\\\`, 'g'))];
    expect(escapes.map((m) => m[0]).join('')).toBe(out.slice(0, -1));
    expect(escapes.length).toBe(Math.ceil(png.toString('base64').length / KITTY_CHUNK));
    expect(escapes[0]?.[1]).toBe('a=T,f=100,q=2,c=60,m=1');
    expect(escapes.slice(1, -1).every((m) => m[1] === 'm=1')).toBe(true);
    expect(escapes.at(-1)?.[1]).toBe('m=0');
    expect(escapes.every((m) => (m[2] ?? '').length <= KITTY_CHUNK)).toBe(true);
    expect(Buffer.from(escapes.map((m) => m[2]).join(''), 'base64').equals(png)).toBe(true);
  });

  it("iTerm2 (and WezTerm): one OSC 1337 with the file's size and bytes", () => {
    const out = inlineImage(png, 'iterm', { columns: 60 });
    const m = out.match(
      new RegExp(
        `^${ESC}\\]1337;File=inline=1;size=(\\d+);width=60;preserveAspectRatio=1:([A-Za-z0-9+/=]+)${BEL}\n$`,
      ),
    );
    expect(m).not.toBeNull();
    expect(Number(m?.[1])).toBe(png.length);
    expect(Buffer.from(m?.[2] ?? '', 'base64').equals(png)).toBe(true);
  });

  it('sixel: every pixel of the image, in its palette color, band by band', () => {
    const { width, height, rgba } = decodePng(png);
    expect({ width, height }).toEqual(pngSize(png));
    // matplotlib's white figure, and dark pixels where the axes and curve are.
    expect([...rgba.subarray(0, 4)]).toEqual([255, 255, 255, 255]);
    expect(rgba.some((v, i) => i % 4 === 0 && v < 80)).toBe(true);

    const out = inlineImage(png, 'sixel');
    const body = out.match(new RegExp(`^${ESC}P0;1;0q"1;1;(\\d+);(\\d+)(.*)${ESC}\\\\\n$`, 's'));
    expect(body).not.toBeNull();
    expect([Number(body?.[1]), Number(body?.[2])]).toEqual([width, height]);
    const painted = decodeSixel(body?.[3] ?? '', width, height);
    const level = (c: number) => Math.round((c / 255) * 5);
    for (let i = 0; i < width * height; i++) {
      const expected =
        level(rgba[i * 4] ?? 0) * 36 + level(rgba[i * 4 + 1] ?? 0) * 6 + level(rgba[i * 4 + 2] ?? 0);
      if (painted[i] !== expected)
        throw new Error(`pixel ${i % width},${Math.floor(i / width)}: ${painted[i]} != ${expected}`);
    }
  });
});

/** A reader of the sixel data this module writes: palette entries, `#n` colors, runs, `$` and `-`. */
function decodeSixel(data: string, width: number, height: number): Int16Array {
  const pixels = new Int16Array(width * height).fill(-1);
  let color = 0;
  let x = 0;
  let top = 0;
  const paint = (ch: string, count: number) => {
    const bits = ch.charCodeAt(0) - 63;
    for (let n = 0; n < count; n++, x++) {
      for (let r = 0; r < 6; r++)
        if (bits & (1 << r) && top + r < height) pixels[(top + r) * width + x] = color;
    }
  };
  for (const t of data.matchAll(/#(\d+)(?:;2;\d+;\d+;\d+)?|!(\d+)([?-~])|([?-~])|(\$)|(-)/g)) {
    if (t[1] !== undefined) color = Number(t[1]);
    else if (t[2] !== undefined) paint(t[3] ?? '?', Number(t[2]));
    else if (t[4] !== undefined) paint(t[4], 1);
    else if (t[5]) x = 0;
    else if (t[6]) {
      x = 0;
      top += 6;
    }
  }
  return pixels;
}
