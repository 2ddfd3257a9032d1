// TensorBoard event files (`events.out.tfevents.*`): TFRecord-framed `Event` protos, decoded with
// protobufjs from the field numbers of tensorflow/core/util/event.proto, framework/summary.proto and
// framework/tensor.proto. Scalars are `simple_value` (tensorboardX, PyTorch's SummaryWriter, TF1) or
// rank-0 tensors of the `scalars` plugin (TF2's tf.summary.scalar).
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { readTfRecords } from './tfrecord';

/** The messages and fields read here; everything else in an event (graphs, images, histograms) is skipped unread. */
const EVENT_PROTO = `
syntax = "proto3";
package tensorboard;
message Event {
  double wall_time = 1;
  int64 step = 2;
  string file_version = 3;
  Summary summary = 5;
}
message Summary {
  message Value {
    string node_name = 7;
    string tag = 1;
    SummaryMetadata metadata = 9;
    float simple_value = 2;
    TensorProto tensor = 8;
  }
  repeated Value value = 1;
}
message SummaryMetadata {
  message PluginData {
    string plugin_name = 1;
    bytes content = 2;
  }
  PluginData plugin_data = 1;
  string display_name = 2;
  string summary_description = 3;
  int32 data_class = 4;
}
message TensorShapeProto {
  message Dim {
    int64 size = 1;
    string name = 2;
  }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}
message TensorProto {
  int32 dtype = 1;
  TensorShapeProto tensor_shape = 2;
  int32 version_number = 3;
  bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true];
  repeated double double_val = 6 [packed = true];
  repeated int32 int_val = 7 [packed = true];
  repeated int64 int64_val = 10 [packed = true];
  repeated int32 half_val = 13 [packed = true];
}
`;

export const eventProto = protobuf.parse(EVENT_PROTO, { keepCase: true }).root;
const Event = eventProto.lookupType('tensorboard.Event');

/** tensorflow/core/framework/types.proto: the dtypes a scalar can have. */
const DT = { FLOAT: 1, DOUBLE: 2, INT32: 3, INT64: 9, HALF: 19 } as const;

export interface Scalar {
  tag: string;
  step: number;
  /** Seconds since the epoch. */
  wallTime: number;
  value: number;
}

export interface EventFileRead {
  file: string;
  scalars: Scalar[];
  /** A damaged or cut record, or an undecodable event: reading stopped there (a file being written ends mid-record). */
  problem?: string;
}

interface DecodedValue {
  tag?: string;
  simple_value?: number;
  metadata?: { plugin_data?: { plugin_name?: string } };
  tensor?: {
    dtype?: number;
    tensor_shape?: { dim?: unknown[] };
    tensor_content?: Uint8Array;
    float_val?: number[];
    double_val?: number[];
    int_val?: number[];
    int64_val?: number[];
  };
}

/** The value of a scalar tensor, or undefined when it is not one number. */
function tensorScalar(t: NonNullable<DecodedValue['tensor']>): number | undefined {
  if ((t.tensor_shape?.dim?.length ?? 0) !== 0) return undefined;
  const list = t.float_val?.length
    ? t.float_val
    : t.double_val?.length
      ? t.double_val
      : t.int_val?.length
        ? t.int_val
        : t.int64_val?.length
          ? t.int64_val.map(Number)
          : undefined;
  if (list) return list.length === 1 ? Number(list[0]) : undefined;
  const c = t.tensor_content;
  if (!c) return undefined;
  const view = new DataView(c.buffer, c.byteOffset, c.byteLength);
  if (t.dtype === DT.FLOAT && c.length === 4) return view.getFloat32(0, true);
  if (t.dtype === DT.DOUBLE && c.length === 8) return view.getFloat64(0, true);
  if (t.dtype === DT.INT32 && c.length === 4) return view.getInt32(0, true);
  if (t.dtype === DT.INT64 && c.length === 8) return Number(view.getBigInt64(0, true));
  return undefined;
}

/** Scalars of one event file's bytes. */
export function decodeEvents(file: string, buf: Uint8Array): EventFileRead {
  const framed = readTfRecords(buf);
  const scalars: Scalar[] = [];
  // TF2 writes the plugin metadata with a tag's first value only.
  const scalarTags = new Set<string>();
  let problem = framed.problem;
  for (const [i, record] of framed.records.entries()) {
    let event: { wall_time?: number; step?: number; summary?: { value?: DecodedValue[] } };
    try {
      event = Event.toObject(Event.decode(record), { longs: Number, defaults: false }) as typeof event;
    } catch (e) {
      problem = `event ${i + 1} does not decode (${(e as Error).message})`;
      break;
    }
    for (const v of event.summary?.value ?? []) {
      if (!v.tag) continue;
      const plugin = v.metadata?.plugin_data?.plugin_name;
      if (plugin === 'scalars') scalarTags.add(v.tag);
      let value: number | undefined;
      if (v.simple_value !== undefined) value = v.simple_value;
      else if (v.tensor && (plugin === 'scalars' || (!plugin && scalarTags.has(v.tag)))) value = tensorScalar(v.tensor);
      if (value !== undefined)
        scalars.push({ tag: v.tag, step: event.step ?? 0, wallTime: event.wall_time ?? 0, value });
    }
  }
  return { file, scalars, problem: problem && `${path.basename(file)}: ${problem}` };
}

export const EVENT_FILE = /^events\.out\.tfevents\./;

/** Event files read before, by path, size and mtime: a refresh of the Runs view reads only files that changed. */
const cache = new Map<string, { size: number; mtimeMs: number; read: EventFileRead }>();

/** Event files holding images or audio grow to gigabytes; those are named, not read whole into memory. */
export const MAX_EVENT_FILE_BYTES = 512 * 2 ** 20;

export async function readEventFile(file: string): Promise<EventFileRead> {
  const s = await stat(file);
  const hit = cache.get(file);
  if (hit && hit.size === s.size && hit.mtimeMs === s.mtimeMs) return hit.read;
  if (s.size > MAX_EVENT_FILE_BYTES)
    return {
      file,
      scalars: [],
      problem: `${path.basename(file)}: ${Math.round(s.size / 2 ** 20)} MiB, more than the ${MAX_EVENT_FILE_BYTES / 2 ** 20} MiB read; not read`,
    };
  const read = decodeEvents(file, await readFile(file));
  cache.set(file, { size: s.size, mtimeMs: s.mtimeMs, read });
  return read;
}

/** Event files directly in a folder, oldest first (a restarted writer starts a new file). */
export async function eventFilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => EVENT_FILE.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}
