// Python files the SDK runs in a Jupyter kernel are imported as their source text (tsup's text loader,
// and the same in vitest.config.ts).
declare module '*.py' {
  const source: string;
  export default source;
}
