import { shellQuote } from '../remote/ssh';

/** Names a run's folder and tmux session; safe in paths, shell words and tmux targets. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The run folder relative to the remote HOME. */
export const runDirOf = (runId: string): string => `runs/${runId}`;
/**
 * `cd` into the run folder. Always through "$HOME": sshd starts exec and SFTP in the account's home
 * from passwd, which on a local instance is not the HOME its sessions get.
 */
const cdRun = (runId: string): string => `cd "$HOME"/${shellQuote(runDirOf(runId))}`;
export const sessionOf = (runId: string): string => `train-${runId.replace(/\./g, '_')}`;

/** Largest slice of train.log or metrics.jsonl read per poll, so one poll never carries a huge payload. */
export const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Starts the wrapper in tmux unless this run was ever launched. A `launched_at` marker is written
 * under a lock before tmux starts, so a retried launch can never start a second copy, even after the
 * first one vanished without an exit code.
 */
export function launchCommand(runId: string): string {
  const session = shellQuote(`=${sessionOf(runId)}`);
  // tmux's shell starts in the run folder (-c), so the wrapper gets its absolute path from pwd.
  const inner = 'bash ./wrapper.sh "$(pwd)" < /dev/null';
  return [
    cdRun(runId),
    'exec 9> .launch.lock && flock 9',
    'if [ -e exit_code ]; then echo state=finished; exit 0; fi',
    `if tmux has-session -t ${session} 2> /dev/null; then echo state=running; exit 0; fi`,
    'if [ -s pid ] && kill -0 "$(cat pid)" 2> /dev/null; then echo state=running; exit 0; fi',
    'if [ -e launched_at ]; then echo state=vanished; exit 0; fi',
    'date +%s%3N > launched_at',
    // 9>&-: a tmux server started here would otherwise hold the launch lock for its whole life.
    `tmux new-session -d -s ${shellQuote(sessionOf(runId))} -c "$(pwd)" ${shellQuote(inner)} 9>&-`,
    'echo state=launched',
  ].join(' && ');
}

/** What one poll learns from the VM. */
export interface ProbeResult {
  runDirExists: boolean;
  exitCode?: number;
  tmuxAlive: boolean;
  pidAlive: boolean;
  startedAt?: number;
  endedAt?: number;
  /** The wrapper was signalled (tmux killed, instance shutting down) rather than the job ending alone. */
  killedBy?: string;
  now: number;
  logSize: number;
  metricsSize: number;
  /** Newest entry under checkpoints/, with the age of its newest file. */
  checkpoint?: { name: string; size: number; ageMs: number };
  /** The entry before it: complete once a newer one exists (trainings write checkpoints in order). */
  previousCheckpoint?: string;
  log: Buffer;
  metrics: Buffer;
}

/**
 * One shell script per poll: status first, then new bytes. Reading exit_code before the files means
 * that when it is present, the bytes read after it are the complete output.
 */
export function probeCommand(runId: string, logOffset: number, metricsOffset: number): string {
  const session = shellQuote(`=${sessionOf(runId)}`);
  const slice = (file: string, offset: number) =>
    `{ tail -c +${offset + 1} ${file} 2> /dev/null | head -c ${READ_CHUNK_BYTES} | base64 -w0; echo; }`;
  return [
    `${cdRun(runId)} 2> /dev/null || { echo dir=0; exit 0; }`,
    'ex=$(cat exit_code 2> /dev/null || echo -)',
    `tm=0; tmux has-session -t ${session} 2> /dev/null && tm=1`,
    'pa=0; [ -s pid ] && kill -0 "$(cat pid)" 2> /dev/null && pa=1',
    'cl=$(ls -t checkpoints 2> /dev/null | grep -v -e "^\\." -e "\\.tmp$" | head -n 2)',
    'ck=$(printf "%s\\n" "$cl" | sed -n 1p); ck2=$(printf "%s\\n" "$cl" | sed -n 2p)',
    'cks=0; [ -n "$ck" ] && cks=$(du -sb "checkpoints/$ck" | cut -f1)',
    // Age of the newest file inside the newest checkpoint (a folder checkpoint is written file by file).
    'cka=0; [ -n "$ck" ] && cka=$(find "checkpoints/$ck" -printf "%T@\\n" | sort -n | tail -n 1 |' +
      ' awk -v now="$(date +%s.%N)" \'{ printf "%d", (now - $1) * 1000 }\')',
    'echo "dir=1 exit=$ex tmux=$tm pid=$pa started=$(cat started_at 2> /dev/null || echo -)' +
      ' ended=$(cat ended_at 2> /dev/null || echo -) killed=$(cat killed_by 2> /dev/null || echo -)' +
      ' now=$(date +%s%3N)' +
      ' logsize=$(stat -c %s train.log 2> /dev/null || echo 0)' +
      ' metricssize=$(stat -c %s metrics.jsonl 2> /dev/null || echo 0)' +
      ' ckpt=$(printf %s "$ck" | base64 -w0) ckptsize=$cks ckptage=$cka ckpt2=$(printf %s "$ck2" | base64 -w0)"',
    slice('train.log', logOffset),
    slice('metrics.jsonl', metricsOffset),
  ].join('\n');
}

export function parseProbe(stdout: string): ProbeResult {
  const [status = '', log = '', metrics = ''] = stdout.split('\n');
  const fields = new Map(
    status
      .trim()
      .split(' ')
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
  const num = (key: string): number | undefined => {
    const value = fields.get(key);
    return value === undefined || value === '-' || value === '' ? undefined : Number(value);
  };
  const checkpointName = Buffer.from(fields.get('ckpt') ?? '', 'base64').toString('utf8');
  return {
    runDirExists: fields.get('dir') === '1',
    exitCode: num('exit'),
    tmuxAlive: fields.get('tmux') === '1',
    pidAlive: fields.get('pid') === '1',
    startedAt: num('started'),
    endedAt: num('ended'),
    killedBy: fields.get('killed') === '-' ? undefined : fields.get('killed'),
    now: num('now') ?? Date.now(),
    logSize: num('logsize') ?? 0,
    metricsSize: num('metricssize') ?? 0,
    checkpoint: checkpointName
      ? { name: checkpointName, size: num('ckptsize') ?? 0, ageMs: num('ckptage') ?? 0 }
      : undefined,
    previousCheckpoint: Buffer.from(fields.get('ckpt2') ?? '', 'base64').toString('utf8') || undefined,
    log: Buffer.from(log.trim(), 'base64'),
    metrics: Buffer.from(metrics.trim(), 'base64'),
  };
}

/** Folder of the run holding the checkpoint being copied (hard links), next to `checkpoints/`. */
export const SYNC_DIR = '.sync';

/**
 * Freezes a checkpoint for copying: hard links of its files into the run's `.sync/` folder, made in
 * one command, so a training that rotates (deletes) the checkpoint while we copy cannot pull it from
 * under the copy. Prints `snapshot=ok`, or `snapshot=gone` when it was rotated before we got there.
 */
export function snapshotCheckpointCommand(runId: string, name: string): string {
  const target = shellQuote(`${SYNC_DIR}/${name}`);
  return [
    `${cdRun(runId)} && rm -rf ${SYNC_DIR} && mkdir ${SYNC_DIR}`,
    `if cp -al -- ${shellQuote(`checkpoints/${name}`)} ${target} 2> /dev/null; then echo snapshot=ok;` +
      ` else rm -rf ${SYNC_DIR}; echo snapshot=gone; fi`,
  ].join(' && ');
}

/** Removes the run's `.sync/` folder once its copy is done. */
export const dropSnapshotCommand = (runId: string): string => `${cdRun(runId)} && rm -rf ${SYNC_DIR}`;

/**
 * Ends the training's whole process group (TERM, then KILL after a grace period) and its tmux
 * session. Prints `alive=0` when nothing of it runs any more.
 */
export function killCommand(runId: string, graceSeconds = 5): string {
  const session = shellQuote(`=${sessionOf(runId)}`);
  const tries = Math.max(1, Math.round(graceSeconds * 10));
  return [
    `${cdRun(runId)} 2> /dev/null || { echo alive=0; exit 0; }`,
    'pg=$(cat pgid 2> /dev/null || cat pid 2> /dev/null || true)',
    'if [ -n "$pg" ]; then',
    '  kill -TERM -- "-$pg" 2> /dev/null',
    `  for i in $(seq ${tries}); do kill -0 -- "-$pg" 2> /dev/null || break; sleep 0.1; done`,
    '  kill -KILL -- "-$pg" 2> /dev/null',
    // The wrapper (outside the group) records the exit code once the group is gone: give it the same
    // grace before the session goes, so a persistent disk keeps why the training ended.
    `  for i in $(seq ${tries}); do [ -e exit_code ] && break; sleep 0.1; done`,
    'fi',
    `tmux kill-session -t ${session} 2> /dev/null`,
    'if [ -n "$pg" ] && kill -0 -- "-$pg" 2> /dev/null; then echo alive=1; else echo alive=0; fi',
  ].join('\n');
}

/** Writes `env.sh` and `command.sh` content: exports are quoted so values reach the training verbatim. */
export function envScript(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`invalid environment variable name ${key}`);
      return `export ${key}=${shellQuote(value)}\n`;
    })
    .join('');
}
