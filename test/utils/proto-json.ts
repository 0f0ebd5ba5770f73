// Protobuf JSON (as Go's protojson with UseProtoNames writes it) of the objects our ts-proto codecs decode,
// driven by the .proto descriptors so that it needs no per-message code and shares nothing with the codecs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type DescField, type DescMessage, type FileRegistry, ScalarType, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The descriptors of proto/fabric, compiled by buf from the same sources codegen reads; written by
 * proto/generate.sh, so tests need no buf binary.
 */
export function loadFabricRegistry(): FileRegistry {
  const fds = readFileSync(`${REPO}proto/fabric-descriptors.binpb`);
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, new Uint8Array(fds)));
}

type Obj = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new Error(`proto-json: ${path}: ${what}`);
}

function scalarJson(type: ScalarType, v: unknown, path: string): JsonValue {
  switch (type) {
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      if (typeof v !== "bigint") fail(path, `expected a bigint, got ${typeof v}`);
      return v.toString(10);
    case ScalarType.BYTES:
      if (!(v instanceof Uint8Array)) fail(path, "expected a Uint8Array");
      return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
    case ScalarType.BOOL:
      if (typeof v !== "boolean") fail(path, `expected a boolean, got ${typeof v}`);
      return v;
    case ScalarType.STRING:
      if (typeof v !== "string") fail(path, `expected a string, got ${typeof v}`);
      return v;
    default:
      if (typeof v !== "number") fail(path, `expected a number, got ${typeof v}`);
      if (!Number.isFinite(v)) return String(v);
      return v;
  }
}

function isDefaultScalar(v: unknown): boolean {
  return v === 0 || v === 0n || v === "" || v === false || (v instanceof Uint8Array && v.byteLength === 0);
}

function fieldJson(field: DescField, v: unknown, path: string): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return scalarJson(field.scalar, v, path);
    case "enum": {
      if (typeof v !== "number") fail(path, `expected an enum number, got ${typeof v}`);
      return field.enum.values.find((e) => e.number === v)?.name ?? v;
    }
    case "message":
      if (typeof v !== "object" || v === null) fail(path, "expected a message object");
      return toProtoJson(field.message, v, path);
    case "list": {
      if (!Array.isArray(v)) fail(path, "expected an array");
      return v.map((item, i): JsonValue => {
        const p = `${path}[${i}]`;
        if (field.listKind === "scalar") return scalarJson(field.scalar, item, p);
        if (field.listKind === "enum") return field.enum.values.find((e) => e.number === item)?.name ?? (item as number);
        if (typeof item !== "object" || item === null) fail(p, "expected a message object");
        return toProtoJson(field.message, item, p);
      });
    }
    case "map":
      return fail(path, "map fields are not supported (none in Fabric's gossip protos)");
  }
}

/**
 * `msg` (a ts-proto object of message type `desc`) as protobuf JSON: proto field names, bytes in
 * base64, 64-bit integers as decimal strings, enums by name, fields at their default value omitted
 * (a set oneof member is always written). Throws when the object has a property the descriptor lacks,
 * or lacks one it has, so a naming mismatch cannot hide a field.
 */
export function toProtoJson(desc: DescMessage, msg: object, path: string = desc.typeName): JsonObject {
  const obj = msg as Obj;
  const out: JsonObject = {};
  const seen = new Set<string>();
  const oneofValues = new Map<string, { $case: string; value: unknown } | undefined>();
  for (const oneof of desc.oneofs) {
    if (!(oneof.localName in obj)) fail(path, `missing oneof property ${oneof.localName}`);
    seen.add(oneof.localName);
    const v = obj[oneof.localName];
    if (v !== undefined && (typeof v !== "object" || v === null || !("$case" in v))) fail(path, `oneof ${oneof.localName} is not a {$case, value}`);
    oneofValues.set(oneof.localName, v as { $case: string; value: unknown } | undefined);
  }
  // Go's protojson writes fields in field-number order; key order does not matter to deepStrictEqual anyway.
  for (const field of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const p = `${path}.${field.name}`;
    if (field.oneof !== undefined) {
      const set = oneofValues.get(field.oneof.localName);
      if (set?.$case === field.localName) out[field.name] = fieldJson(field, set.value, p);
      continue;
    }
    if (!(field.localName in obj)) fail(path, `missing property ${field.localName}`);
    seen.add(field.localName);
    const v = obj[field.localName];
    if (v === undefined) continue;
    if (field.fieldKind === "list" && Array.isArray(v) && v.length === 0) continue;
    if ((field.fieldKind === "scalar" || field.fieldKind === "enum") && isDefaultScalar(v)) continue;
    out[field.name] = fieldJson(field, v, p);
  }
  for (const oneof of desc.oneofs) {
    const set = oneofValues.get(oneof.localName);
    if (set !== undefined && !oneof.fields.some((f) => f.localName === set.$case)) fail(path, `unknown ${oneof.localName} case ${set.$case}`);
  }
  const extra = Object.keys(obj).filter((k) => !seen.has(k));
  if (extra.length > 0) fail(path, `properties not in the descriptor: ${extra.join(", ")}`);
  return out;
}
