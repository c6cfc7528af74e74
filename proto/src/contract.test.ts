// Round-trips every message of the contract through ts-proto's codecs and through protobufjs, an
// independent implementation that reads the .proto files. Samples are derived from the .proto
// descriptors, so a message or field added later is covered without touching this test.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import * as contract from './index.js';

interface Codec {
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  fromJSON(json: unknown): unknown;
  toJSON(message: unknown): unknown;
}

const root = new protobuf.Root();
root.resolvePath = (_origin, target) =>
  target.startsWith('google/protobuf/') || target.startsWith('/') ? target : join(contract.protoRoot, target);
root.loadSync(contract.protoFiles.map((f) => join(contract.protoRoot, f)));
root.resolveAll();
const v1 = root.lookup('gpulink.v1') as protobuf.Namespace;

function allTypes(ns: protobuf.NamespaceBase): protobuf.Type[] {
  return ns.nestedArray.flatMap((n) =>
    n instanceof protobuf.Type ? [n, ...allTypes(n)] : n instanceof protobuf.Namespace ? allTypes(n) : [],
  );
}
const messageTypes = allTypes(v1);

/** A canonical-JSON sample of `type` with every field set; `variant` picks which member of each oneof. */
function sample(type: protobuf.Type, variant: number, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const chosen = new Set(
    type.oneofsArray
      .filter((o) => !o.name.startsWith('_'))
      .map((o) => o.fieldsArray[variant % o.fieldsArray.length]?.name),
  );
  for (const field of type.fieldsArray) {
    const real = field.partOf && !field.partOf.name.startsWith('_');
    if (real && !chosen.has(field.name)) continue;
    const value = scalar(field, variant, depth);
    if (value === undefined) continue;
    const key = field.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    out[key] = field.map ? { k1: value } : field.repeated ? [value, value] : value;
  }
  return out;
}

function scalar(field: protobuf.Field, variant: number, depth: number): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum)
    return Object.keys(t.values)[1 + (variant % (Object.keys(t.values).length - 1))];
  if (t instanceof protobuf.Type) {
    if (t.fullName === '.google.protobuf.Timestamp') return '2026-11-27T08:00:00.123Z';
    return depth > 3 ? {} : sample(t, variant, depth + 1);
  }
  switch (field.type) {
    case 'string':
      return `s-${field.name}`;
    case 'bool':
      return true;
    case 'bytes':
      return Buffer.from('gpulink').toString('base64');
    case 'double':
    case 'float':
      return 0.5;
    case 'int32':
    case 'sint32':
      return -7;
    default:
      return field.type.includes('64') ? 4_294_967_297 : 7; // above 2^32: catches 64-bit truncation
  }
}

describe('gpulink.v1 contract', () => {
  it('has a generated codec for every message in the .proto files', () => {
    const missing = messageTypes.filter((t) => !(t.name in contract)).map((t) => t.fullName);
    expect(missing).toEqual([]);
    expect(messageTypes.length).toBeGreaterThan(60);
  });

  for (const type of messageTypes) {
    const variants = Math.max(1, ...type.oneofsArray.map((o) => o.fieldsArray.length));
    it(`round-trips ${type.name} (${variants} variant${variants > 1 ? 's' : ''})`, () => {
      const codec = (contract as unknown as Record<string, Codec>)[type.name];
      if (!codec) throw new Error(`no codec for ${type.name}`);
      for (let v = 0; v < variants; v++) {
        const json = sample(type, v);
        const message = codec.fromJSON(json);
        expect(codec.toJSON(message)).toEqual(json);
        const bytes = codec.encode(message).finish();
        expect(codec.toJSON(codec.decode(bytes))).toEqual(json);
        // Cross-implementation: protobufjs decodes ts-proto's bytes and re-encodes them losslessly.
        const again = type.encode(type.decode(bytes)).finish();
        expect(codec.toJSON(codec.decode(again))).toEqual(json);
        if (Object.keys(json).length > 0) expect(bytes.length).toBeGreaterThan(0);
      }
    });
  }

  it('names every RPC of the three services with its request and response messages', () => {
    const services = contract.serviceNames.map((n) => root.lookupService(n));
    const rpcs = services.flatMap((s) => s.methodsArray);
    expect(rpcs.map((m) => m.name)).toContain('WatchJob');
    for (const m of rpcs) {
      expect(m.requestType).toBe(`${m.name}Request`);
      expect(m.responseType).toBe(`${m.name}Response`);
    }
    const generated = [contract.AgentServiceService, contract.JobServiceService, contract.DataServiceService];
    expect(generated.flatMap((s) => Object.values(s).map((d) => d.path)).sort()).toEqual(
      services.flatMap((s) => s.methodsArray.map((m) => `/${s.fullName.slice(1)}/${m.name}`)).sort(),
    );
  });
});
