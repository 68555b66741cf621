import { ApplicationFailure } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { shellQuote } from '../remote/ssh';
import { TrainingErrorType, type CheckpointRef, type CodeSource } from '../../workflows/training-types';
import { envScript, runDirOf } from './remote';
import type { RemoteSession } from './session';
import { WRAPPER_SCRIPT } from './wrapper';

export interface UploadInput {
  vmName: string;
  runId: string;
  code: CodeSource;
  inputs?: string[];
  command: string;
  env?: Record<string, string>;
  /** Checkpoint the run resumes from: a local copy is uploaded, a remote one (same VM) is copied. */
  resumeFrom?: CheckpointRef;
  /** Sameness of the VM decides whether `remotePath` can be used. */
  resumeOnSameVm?: boolean;
}

const uploadFailed = (message: string) =>
  ApplicationFailure.create({ type: TrainingErrorType.UPLOAD_FAILED, message, nonRetryable: true });

/** The local command whose stdout is a tar of the code: `git archive` of a commit, or `tar` of a folder. */
export function codeArchive(code: CodeSource): { command: string; args: string[] } {
  if (code.kind === 'git') {
    try {
      execFileSync('git', ['-C', code.repo, 'cat-file', '-e', `${code.commit}^{commit}`], {
        stdio: 'ignore',
      });
    } catch {
      throw uploadFailed(`commit ${code.commit} not found in ${code.repo}`);
    }
    return {
      command: 'git',
      args: [
        '-C',
        code.repo,
        'archive',
        '--format=tar',
        code.commit,
        ...(code.path ? ['--', code.path] : []),
      ],
    };
  }
  if (!existsSync(code.path)) throw uploadFailed(`code folder ${code.path} does not exist`);
  return { command: 'tar', args: ['-C', resolve(code.path), '-cf', '-', '.'] };
}

function pathArchive(path: string): { command: string; args: string[] } {
  if (!existsSync(path)) throw uploadFailed(`input ${path} does not exist`);
  const full = resolve(path);
  return { command: 'tar', args: ['-C', dirname(full), '-cf', '-', basename(full)] };
}

/**
 * Puts everything a run needs into `~/runs/<id>/`: the wrapper, `command.sh`, `env.sh`, `code/`,
 * `inputs/` and `resume/`. A run that was launched already is left untouched (returns false).
 */
export async function uploadRun(session: RemoteSession, input: UploadInput): Promise<boolean> {
  const home = (await session.run('printf %s "$HOME"')).trim();
  const rel = runDirOf(input.runId);
  const dir = `${home}/${rel}`;
  if ((await session.exec(`test -e ${shellQuote(`${dir}/launched_at`)}`)).code === 0) return false;
  const archives = {
    code: codeArchive(input.code),
    inputs: (input.inputs ?? []).map(pathArchive),
  };
  const q = shellQuote(dir);
  await session.run(`mkdir -p ${q}/code ${q}/inputs ${q}/resume`);

  const env: Record<string, string> = { ...input.env };
  if (input.resumeFrom) {
    const name = input.resumeFrom.name;
    if (input.resumeOnSameVm && input.resumeFrom.remotePath) {
      await session.run(
        `cp -a ${shellQuote(input.resumeFrom.remotePath)} ${shellQuote(`${dir}/resume/${name}`)}`,
      );
    } else if (input.resumeFrom.localPath) {
      await untarInto(session, pathArchive(input.resumeFrom.localPath), dir, 'resume');
    } else {
      throw uploadFailed(`checkpoint ${name} has no copy this VM can reach`);
    }
    env.RESUME_FROM = `${dir}/resume/${name}`;
  }
  await untarInto(session, archives.code, dir, 'code');
  for (const archive of archives.inputs) await untarInto(session, archive, dir, 'inputs');
  await session.putText(`${dir}/env.sh`, envScript(env));
  await session.putText(`${dir}/command.sh`, `${input.command}\n`);
  await session.putText(`${dir}/wrapper.sh`, WRAPPER_SCRIPT, 0o755);
  return true;
}

async function untarInto(
  session: RemoteSession,
  archive: { command: string; args: string[] },
  dir: string,
  sub: string,
): Promise<void> {
  const tarPath = `${dir}/.upload-${sub}.tar`;
  try {
    await session.uploadCommandOutput(archive.command, archive.args, tarPath);
  } catch (error) {
    if (error instanceof Error && /failed \(exit/.test(error.message)) throw uploadFailed(error.message);
    throw error;
  }
  await session.run(
    `tar -xf ${shellQuote(tarPath)} -C ${shellQuote(`${dir}/${sub}`)} && rm -f ${shellQuote(tarPath)}`,
  );
}
