// Pictures in the terminal: a PNG shown inline on terminals that draw images (kitty's graphics
// protocol, iTerm2's inline images, which WezTerm also reads, and sixel), chosen from the
// environment; elsewhere nothing is drawn and the text charts stand alone.
import { decodePng, isPng } from './png.js';

export type ImageProtocol = 'kitty' | 'iterm' | 'sixel';

/**
 * Which protocol the terminal reads, from its environment. `GPULINK_IMAGES=kitty|iterm|sixel|none`
 * decides outright; inside tmux or screen none is used (they do not pass images on by default).
 */
export function detectImageProtocol(env: NodeJS.ProcessEnv = process.env): ImageProtocol | undefined {
  const forced = env.GPULINK_IMAGES?.toLowerCase();
  if (forced === 'kitty' || forced === 'iterm' || forced === 'sixel') return forced;
  if (forced === 'none' || forced === 'off') return undefined;
  const term = env.TERM ?? '';
  if (env.TMUX || term.startsWith('screen') || term.startsWith('tmux')) return undefined;
  const program = env.TERM_PROGRAM ?? '';
  if (env.KITTY_WINDOW_ID || term === 'xterm-kitty' || program === 'ghostty' || term === 'xterm-ghostty') {
    return 'kitty';
  }
  if (program === 'iTerm.app' || env.LC_TERMINAL === 'iTerm2' || program === 'WezTerm' || env.WEZTERM_PANE) {
    return 'iterm';
  }
  if (term.startsWith('foot') || term.includes('sixel') || env.MLTERM || term === 'yaft-256color')
    return 'sixel';
  return undefined;
}

export interface InlineImageOptions {
  /** Terminal columns the image may take (kitty and iTerm2 scale it; sixel is drawn at its pixel size). */
  columns?: number;
}

/** The escape sequence that draws `png` at the cursor, followed by a newline. */
export function inlineImage(
  png: Uint8Array,
  protocol: ImageProtocol,
  options: InlineImageOptions = {},
): string {
  if (!isPng(png)) throw new Error('not a PNG file');
  switch (protocol) {
    case 'kitty':
      return `${kittyImage(png, options.columns)}\n`;
    case 'iterm':
      return `${itermImage(png, options.columns)}\n`;
    case 'sixel':
      return `${sixelImage(png)}\n`;
  }
}

/** Base64 characters per kitty escape: the protocol's limit for one chunk. */
export const KITTY_CHUNK = 4096;

/** kitty graphics protocol: transmit and display (a=T) a PNG (f=100), in chunks of 4096 base64 characters. */
function kittyImage(png: Uint8Array, columns?: number): string {
  const data = Buffer.from(png).toString('base64');
  const chunks: string[] = [];
  for (let at = 0; at < data.length; at += KITTY_CHUNK) chunks.push(data.slice(at, at + KITTY_CHUNK));
  return chunks
    .map((chunk, i) => {
      const more = i < chunks.length - 1 ? 1 : 0;
      const keys = i === 0 ? `a=T,f=100,q=2${columns ? `,c=${columns}` : ''},m=${more}` : `m=${more}`;
      return `\x1b_G${keys};${chunk}\x1b\\`;
    })
    .join('');
}

/** iTerm2's inline image (OSC 1337 File), which WezTerm also reads. */
function itermImage(png: Uint8Array, columns?: number): string {
  const width = columns ? `;width=${columns}` : '';
  return `\x1b]1337;File=inline=1;size=${png.length}${width};preserveAspectRatio=1:${Buffer.from(png).toString('base64')}\x07`;
}

/** Levels of each channel in the sixel palette: a 6×6×6 color cube (216 of the 256 registers). */
const LEVELS = 6;

/**
 * Sixel: the image's pixels (alpha laid over white) in a 6×6×6 palette, six rows a band, each
 * color's run of sixels run-length coded.
 */
function sixelImage(png: Uint8Array): string {
  const { width, height, rgba } = decodePng(png);
  const index = new Uint8Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const alpha = (rgba[i * 4 + 3] ?? 255) / 255;
    const level = (c: number) => Math.round(((c * alpha + 255 * (1 - alpha)) / 255) * (LEVELS - 1));
    index[i] =
      level(rgba[i * 4] ?? 0) * LEVELS * LEVELS +
      level(rgba[i * 4 + 1] ?? 0) * LEVELS +
      level(rgba[i * 4 + 2] ?? 0);
  }
  const out: string[] = [`\x1bP0;1;0q"1;1;${width};${height}`];
  for (let c = 0; c < LEVELS ** 3; c++) {
    const pct = (v: number) => Math.round((v / (LEVELS - 1)) * 100);
    out.push(`#${c};2;${pct(Math.floor(c / 36))};${pct(Math.floor(c / 6) % 6)};${pct(c % 6)}`);
  }
  for (let top = 0; top < height; top += 6) {
    const rows = Math.min(6, height - top);
    const used = new Set<number>();
    for (let y = top; y < top + rows; y++)
      for (let x = 0; x < width; x++) used.add(index[y * width + x] ?? 0);
    const lines: string[] = [];
    for (const color of used) {
      let line = `#${color}`;
      let run = '';
      let count = 0;
      const flush = () => {
        if (count > 0) line += count > 3 ? `!${count}${run}` : run.repeat(count);
      };
      for (let x = 0; x < width; x++) {
        let bits = 0;
        for (let r = 0; r < rows; r++) if (index[(top + r) * width + x] === color) bits |= 1 << r;
        const ch = String.fromCharCode(63 + bits);
        if (ch === run) count++;
        else {
          flush();
          run = ch;
          count = 1;
        }
      }
      flush();
      lines.push(line);
    }
    out.push(`${lines.join('$')}-`);
  }
  out.push('\x1b\\');
  return out.join('');
}
