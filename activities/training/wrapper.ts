/**
 * The wrapper we upload to `~/runs/<id>/wrapper.sh` and run inside tmux. It is kept here as a string
 * so the compiled worker ships it without copying assets.
 *
 * Contract (DESIGN.md §5): in the run folder it writes `started_at` (epoch ms), `pid` and `pgid` of
 * the training, `train.log` (stdout+stderr), then `ended_at` and, last, `exit_code`. The training runs
 * under `setsid`, in a process group of its own, with stdin from /dev/null, so killing that group ends
 * the whole tree and an SSH disconnect never reaches it. A hangup or TERM of the wrapper (tmux killed,
 * instance stopped) is passed on to the group, so stopping a local instance stops its training.
 */
export const WRAPPER_SCRIPT = `#!/usr/bin/env bash
set -u
run_dir="$1"
cd "$run_dir" || exit 97
mkdir -p checkpoints output
date +%s%3N > started_at.tmp && mv started_at.tmp started_at
export RUN_DIR="$run_dir" CHECKPOINT_DIR="$run_dir/checkpoints" OUTPUT_DIR="$run_dir/output"
export METRICS_FILE="$run_dir/metrics.jsonl" INPUT_DIR="$run_dir/inputs"
# A background job of a non-interactive shell is not a group leader, so setsid does not fork: $! is
# the new session's leader and its pid is the process-group id.
setsid bash -c 'cd "$RUN_DIR/code" && . "$RUN_DIR/env.sh" && exec bash "$RUN_DIR/command.sh"' \\
  < /dev/null >> train.log 2>&1 &
pid=$!
echo "$pid" > pid.tmp && mv pid.tmp pid
echo "$pid" > pgid.tmp && mv pgid.tmp pgid
forward() {
  echo "$1" > killed_by
  kill -TERM -- "-$pid" 2> /dev/null
}
trap 'forward HUP' HUP
trap 'forward TERM' TERM
trap 'forward INT' INT
while :; do
  wait "$pid"
  code=$?
  kill -0 "$pid" 2> /dev/null || break
done
date +%s%3N > ended_at.tmp && mv ended_at.tmp ended_at
echo "$code" > exit_code.tmp && mv exit_code.tmp exit_code
`;
