import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RegistryStore } from './store';

const missing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/** Writes a file whole or not at all: a reader never sees half of it. */
async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${randomUUID()}`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/**
 * The registry on a folder (the default): versions are built in a temporary folder and renamed into
 * place; aliases are rewritten by write-then-rename. The compare-and-set of an alias compares the
 * content read with the content on disk just before the rename: enough for the workers of one
 * machine (a promotion is one activity per run), not a lock across machines; use a bucket for that.
 */
export function folderStore(root: string): RegistryStore {
  const at = (key: string) => join(root, ...key.split('/'));
  const read = async (key: string) => {
    try {
      const text = await readFile(at(key), 'utf8');
      return { text, generation: text };
    } catch (error) {
      if (missing(error)) return null;
      throw error;
    }
  };
  return {
    locate: at,
    read,
    async writeIf(key, text, generation) {
      const current = await read(key);
      if ((current?.generation ?? null) !== generation) return false;
      await writeAtomically(at(key), text);
      return true;
    },
    async children(prefix) {
      const entries = await readdir(at(prefix), { withFileTypes: true }).catch((error: unknown) => {
        if (missing(error)) return [];
        throw error;
      });
      return {
        folders: entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name),
        files: entries.filter((entry) => entry.isFile()).map((entry) => entry.name),
      };
    },
    async publish(prefix, files, meta) {
      const target = at(prefix);
      const staging = join(dirname(target), `.tmp-${randomUUID()}`);
      await mkdir(staging, { recursive: true });
      try {
        await Promise.all(files.map((file) => copyFile(file.source, join(staging, file.name))));
        await writeFile(join(staging, 'version.json'), meta);
        await rename(staging, target);
        return { created: true };
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return { created: false };
        throw error;
      }
    },
    async remove(prefix) {
      await rm(at(`${prefix}/version.json`), { force: true });
      await rm(at(prefix), { recursive: true, force: true });
    },
    async download(key, target) {
      await mkdir(dirname(target), { recursive: true });
      const temp = `${target}.tmp-${randomUUID()}`;
      await copyFile(at(key), temp);
      await rename(temp, target);
    },
  };
}
