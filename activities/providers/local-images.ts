import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { VmErrorType, vmFailure } from './errors';

/** `image.json` of a local machine image folder: what the image is and which script it boots with. */
export const imageManifestSchema = z.object({
  name: z.string().min(1),
  description: z.string().default(''),
  /** Script in the image folder run at every boot of an instance, from the instance's HOME. */
  entrypoint: z.string().min(1),
  /** The accelerator the image's drivers are for (informational on `local`). */
  accelerator: z.string().nullable().default(null),
  /**
   * Folders (relative to the image folder) put first on PATH in the instance's sessions: where the
   * image's software lives. The CPU template's is the project's `.venv/bin`, the Python with the
   * pinned scientific stack (scikit-learn) that the production image has installed; a folder that
   * does not exist is left out.
   */
  path: z.array(z.string().min(1)).default([]),
});

export type ImageManifest = z.infer<typeof imageManifestSchema>;

export interface LocalMachineImage {
  dir: string;
  manifest: ImageManifest;
}

/** Names of the images available in `imagesDir` (folders holding an `image.json`). */
export function localImageNames(imagesDir: string): string[] {
  if (!existsSync(imagesDir)) return [];
  return readdirSync(imagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(imagesDir, entry.name, 'image.json')))
    .map((entry) => entry.name)
    .sort();
}

/** Loads a machine image folder; fails with `MACHINE_IMAGE_NOT_FOUND` naming the image and where it looked. */
export function loadLocalMachineImage(imagesDir: string, name: string): LocalMachineImage {
  const dir = join(imagesDir, name);
  const manifestFile = join(dir, 'image.json');
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || !existsSync(manifestFile)) {
    const known = localImageNames(imagesDir);
    throw vmFailure(
      VmErrorType.MACHINE_IMAGE_NOT_FOUND,
      `machine image ${JSON.stringify(name)} not found in ${imagesDir} (available: ${known.join(', ') || 'none'})`,
      { machineImage: name, available: known },
    );
  }
  const parsed = imageManifestSchema.safeParse(JSON.parse(readFileSync(manifestFile, 'utf8')));
  if (!parsed.success || parsed.data.name !== name) {
    throw vmFailure(
      VmErrorType.VM_INVALID_SPEC,
      `machine image ${name}: invalid ${manifestFile}${parsed.success ? ` (name is ${parsed.data.name})` : `: ${parsed.error.message}`}`,
      { machineImage: name },
    );
  }
  if (!existsSync(join(dir, parsed.data.entrypoint)))
    throw vmFailure(
      VmErrorType.VM_INVALID_SPEC,
      `machine image ${name}: entrypoint ${parsed.data.entrypoint} missing`,
      {
        machineImage: name,
      },
    );
  return { dir, manifest: parsed.data };
}
