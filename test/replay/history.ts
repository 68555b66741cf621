import type { temporal } from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { readFileSync } from 'node:fs';

type History = temporal.api.history.v1.IHistory;
interface ProtoJson {
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
}

/**
 * Reads a history in the JSON the CLI (`temporal workflow show --output json`) and the Web UI write.
 *
 * Not `historyFromJSON` from @temporalio/common: here @google-cloud/compute pins protobufjs 7 at the
 * top of node_modules, so @temporalio/common and @temporalio/proto each get a private copy of
 * protobufjs 8, and common's JSON reader rejects proto's types ("type must be a Type"). Taking the
 * reader from the copy that @temporalio/proto resolves keeps both on one protobufjs, whatever the
 * install layout.
 */
export function loadHistory(file: string): History {
  const protojsonPath = require.resolve('protobufjs/ext/protojson', {
    paths: [require.resolve('@temporalio/proto')],
  });
  const { fromJson } = require(protojsonPath) as ProtoJson; // eslint-disable-line @typescript-eslint/no-require-imports
  // The CommonJS module itself (an ESM namespace wrapper hides the protobufjs root it carries).
  const proto = require('@temporalio/proto') as Parameters<typeof patchProtobufRoot>[0]; // eslint-disable-line @typescript-eslint/no-require-imports
  const root = patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown };
  const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  return fromJson(root.lookupType('temporal.api.history.v1.History'), json, {
    ignoreUnknownFields: true,
  }) as History;
}
