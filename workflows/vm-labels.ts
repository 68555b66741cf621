// The labels that tie a VM to the workflow that uses it, so the reaper can ask Temporal whether that
// workflow is still open. A workflow id is any string and a label value only `[a-z0-9_-]{0,63}`, so
// the id is hex-encoded (of its UTF-8 percent-encoding) and split over numbered labels. Pure code:
// the trainOnVm workflow writes them, the reaper activity reads them.

/** Number of parts of the encoded workflow id. */
export const OWNER_PARTS_LABEL = 'rt_wf_n';
/** Prefix of the parts: `rt_wf_0`, `rt_wf_1`, … */
export const OWNER_PART_PREFIX = 'rt_wf_';
const PART = 62;
/** Label values are at most 63 characters and an instance has at most 64 labels. */
const MAX_ENCODED = PART * 48;

function hex(text: string): string {
  let out = '';
  for (const char of encodeURIComponent(text)) out += char.charCodeAt(0).toString(16).padStart(2, '0');
  return out;
}

/** Labels naming `workflowId` as the VM's owner; empty when the id is too long to fit. */
export function ownerLabels(workflowId: string): Record<string, string> {
  const encoded = hex(workflowId);
  if (encoded.length === 0 || encoded.length > MAX_ENCODED) return {};
  const labels: Record<string, string> = {};
  let parts = 0;
  for (let offset = 0; offset < encoded.length; offset += PART) {
    labels[`${OWNER_PART_PREFIX}${parts}`] = encoded.slice(offset, offset + PART);
    parts += 1;
  }
  labels[OWNER_PARTS_LABEL] = String(parts);
  return labels;
}

/**
 * The owner workflow id written by `ownerLabels`, or undefined when the labels carry none or a
 * damaged one (a part missing, not hex, or not a valid encoding).
 */
export function ownerOf(labels: Record<string, string>): string | undefined {
  const count = Number(labels[OWNER_PARTS_LABEL]);
  if (!Number.isInteger(count) || count < 1 || count > 48) return undefined;
  let encoded = '';
  for (let part = 0; part < count; part++) {
    const value = labels[`${OWNER_PART_PREFIX}${part}`];
    if (value === undefined || !/^([0-9a-f]{2})+$/.test(value)) return undefined;
    encoded += value;
  }
  let percent = '';
  for (let offset = 0; offset < encoded.length; offset += 2)
    percent += String.fromCharCode(parseInt(encoded.slice(offset, offset + 2), 16));
  try {
    return decodeURIComponent(percent);
  } catch {
    return undefined;
  }
}
