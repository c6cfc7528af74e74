/**
 * Checks a client-supplied relative path. Refused: empty, absolute, backslashes, NUL, "." or ".."
 * segments, empty segments, segments over 255 bytes, paths over 4096 bytes. Returns the problem.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'the path is empty';
  if (Buffer.byteLength(path) > 4096) return 'the path is longer than 4096 bytes';
  if (path.includes('\0')) return 'the path contains a NUL character';
  if (path.includes('\\')) return 'the path contains a backslash: use "/" as the separator';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path))
    return 'the path is absolute: give it relative to the root';
  for (const segment of path.split('/')) {
    if (segment === '') return 'the path has an empty segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `the path has a "${segment}" segment`;
    if (Buffer.byteLength(segment) > 255) return 'a path segment is longer than 255 bytes';
  }
  return undefined;
}
