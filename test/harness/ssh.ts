import { startLocalSshHost, type LocalSshHost } from '../../activities/providers/sshd';
import { testTempDir } from './paths';

/** A local SSH host of this suite's own: its own sshd on a free port, generated keys, its own tmux server. */
export async function startTestSshHost(name = 'vm'): Promise<LocalSshHost> {
  return await startLocalSshHost({ dir: testTempDir(name) });
}
