import { describe, expect, it } from 'vitest';
import { unsafePathReason } from './safe-path.js';

describe('unsafePathReason', () => {
  it('accepts plain relative paths', () => {
    for (const p of ['a.png', 'train/3/img-17.png', 'ünïcode/ok.txt'])
      expect(unsafePathReason(p)).toBeUndefined();
  });
  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'absolute'],
    ['C:/x', 'absolute'],
    ['../x', '".."'],
    ['a/../../x', '".."'],
    ['a/./b', '"."'],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['a\\b', 'backslash'],
    ['a\0b', 'NUL'],
  ])('refuses %j (%s)', (path, why) => {
    expect(unsafePathReason(path)).toContain(why);
  });
});
