import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot, venvBin } from '../../activities/providers/paths';

/** A distribution name as pip compares them (PEP 503): case, `-`, `_` and `.` do not matter. */
const normalise = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

/**
 * The `name==version` pins of a requirements file and of the files it includes (`-r other.txt`,
 * relative to it). Any other kind of line (a range, an unpinned name, a URL) is returned in `loose`.
 */
function readPins(file: string, pins = new Map<string, string>(), loose: string[] = []) {
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const include = /^(?:-r|--requirement)\s+(\S+)$/.exec(line);
    if (include) {
      readPins(resolve(dirname(file), include[1] as string), pins, loose);
      continue;
    }
    const pin = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$/.exec(line);
    if (pin) pins.set(normalise(pin[1] as string), pin[2] as string);
    else loose.push(`${file}: ${line}`);
  }
  return { pins, loose };
}

/**
 * Every package installed in the project's .venv (what `pip freeze` lists: the pinned ones and all
 * that they pulled in) is pinned with == at its installed version in scripts/requirements.txt or a
 * file it includes (models/requirements.txt), so a fresh setup, the Docker image and the machine
 * images install exactly what the tests ran with.
 */
describe('Python pins', () => {
  it('pins every package installed in .venv, at the version installed', () => {
    const { pins, loose } = readPins(join(projectRoot, 'scripts', 'requirements.txt'));
    expect(loose).toEqual([]);
    const frozen = execFileSync(venvBin('python'), ['-m', 'pip', 'freeze', '--disable-pip-version-check'], {
      encoding: 'utf8',
    })
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(frozen.length).toBeGreaterThan(10);
    const problems = frozen.flatMap((line) => {
      const installed = /^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$/.exec(line);
      // An editable or direct-URL install (`-e …`, `name @ file://…`) is not a pin either.
      if (!installed) return [`not installed from a pinned version: ${line}`];
      const pinned = pins.get(normalise(installed[1] as string));
      if (pinned === undefined) return [`not pinned: ${line}`];
      return pinned === installed[2] ? [] : [`pinned ${pinned}, installed ${line}`];
    });
    expect(problems).toEqual([]);
  });
});
