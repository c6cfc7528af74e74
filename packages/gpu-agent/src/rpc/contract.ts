import { join } from 'node:path';
import { protoFiles, protoRoot } from '@gpulink/proto';
import protobuf from 'protobufjs';

/**
 * The contract loaded from the .proto files at run time. The generated ts-proto code decodes
 * leniently (unknown fields are dropped, wrong JSON types coerced); this reflection is what lets the
 * agent refuse what it would otherwise silently misread: unknown fields in a JobSpec, and worker
 * lines that do not match the JobEvent schema.
 */
const root = new protobuf.Root();
root.resolvePath = (_origin, target) =>
  target.startsWith('google/protobuf/') || target.startsWith('/') ? target : join(protoRoot, target);
root.loadSync(protoFiles.map((f) => join(protoRoot, f)));
root.resolveAll();

export function contractType(name: string): protobuf.Type {
  return root.lookupType(`gpulink.v1.${name}`);
}

/** Paths of fields in `bytes` that `type` does not define, e.g. ["spec.vision.(field 99)"]. */
export function findUnknownFields(type: protobuf.Type, bytes: Uint8Array, prefix = ''): string[] {
  const reader = protobuf.Reader.create(bytes);
  const unknown: string[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const field = type.fieldsById[id];
    if (!field) {
      unknown.push(`${prefix}(field ${id})`);
      reader.skipType(wire);
      continue;
    }
    const nested = field.resolvedType;
    if (nested instanceof protobuf.Type && wire === 2 && !field.map) {
      unknown.push(...findUnknownFields(nested, reader.bytes(), `${prefix}${field.name}.`));
    } else {
      reader.skipType(wire);
    }
  }
  return unknown;
}

/**
 * Checks a proto3-JSON value against a message type strictly: unknown keys, wrong types, more than
 * one member of a oneof, and enum names that do not exist are errors. Returns the first problem.
 */
export function validateJson(type: protobuf.Type, value: unknown, path = type.name): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `${path}: expected an object`;
  if (type.fullName === '.google.protobuf.Timestamp') return `${path}: expected an RFC 3339 string`;
  const byJsonName = fieldsByJsonName(type);
  const oneofSeen = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    const field = byJsonName.get(key) ?? type.fields[key];
    if (!field) return `${path}.${key}: no such field`;
    const group = field.partOf;
    if (group && !group.name.startsWith('_')) {
      const other = oneofSeen.get(group.name);
      if (other) return `${path}: ${other} and ${key} are both set, but only one of ${group.name} may be`;
      oneofSeen.set(group.name, key);
    }
    if (v === null) continue;
    const problem = field.map
      ? typeof v === 'object' && !Array.isArray(v)
        ? Object.entries(v as object)
            .map(([k, x]) => checkValue(field, x, `${path}.${key}.${k}`))
            .find(Boolean)
        : `${path}.${key}: expected an object`
      : field.repeated
        ? Array.isArray(v)
          ? v.map((x, i) => checkValue(field, x, `${path}.${key}[${i}]`)).find(Boolean)
          : `${path}.${key}: expected an array`
        : checkValue(field, v, `${path}.${key}`);
    if (problem) return problem;
  }
  return undefined;
}

function checkValue(field: protobuf.Field, v: unknown, path: string): string | undefined {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    if (t.fullName === '.google.protobuf.Timestamp') {
      return typeof v === 'string' && !Number.isNaN(Date.parse(v))
        ? undefined
        : `${path}: expected an RFC 3339 time`;
    }
    return validateJson(t, v, path);
  }
  if (t instanceof protobuf.Enum) {
    return (typeof v === 'string' && v in t.values) ||
      (typeof v === 'number' && Object.values(t.values).includes(v))
      ? undefined
      : `${path}: ${JSON.stringify(v)} is not one of ${Object.keys(t.values).join(', ')}`;
  }
  switch (field.type) {
    case 'string':
      return typeof v === 'string' ? undefined : `${path}: expected a string`;
    case 'bool':
      return typeof v === 'boolean' ? undefined : `${path}: expected true or false`;
    case 'bytes':
      return typeof v === 'string' ? undefined : `${path}: expected base64 text`;
    case 'double':
    case 'float':
      return typeof v === 'number' || v === 'NaN' || v === 'Infinity' || v === '-Infinity'
        ? undefined
        : `${path}: expected a number`;
    default: {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) return `${path}: expected an integer`;
      if (field.type.startsWith('u') || field.type.startsWith('fixed')) {
        if (n < 0) return `${path}: expected a non-negative integer`;
      }
      return undefined;
    }
  }
}

const jsonNames = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** A type's fields by proto3-JSON name, built once per type (validation runs on every worker event). */
function fieldsByJsonName(type: protobuf.Type): Map<string, protobuf.Field> {
  let byName = jsonNames.get(type);
  if (!byName) {
    byName = new Map(type.fieldsArray.map((f) => [jsonName(f.name), f]));
    jsonNames.set(type, byName);
  }
  return byName;
}

function jsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}
