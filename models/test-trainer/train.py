"""A short, deterministic stand-in for a real training, used by the training tests and benches.

It follows the training contract (DESIGN.md section 5): appends {"step","loss","val_loss","ts"} lines
to $METRICS_FILE, writes checkpoints atomically under $CHECKPOINT_DIR, resumes from $RESUME_FROM and
writes the final model to $OUTPUT_DIR/model.json. Each launch appends a line to a launch-count file
on the VM, so tests can prove a training was never started twice.

Knobs (environment variables):
  TRAINER_STEPS              total steps (default 10)
  TRAINER_STEP_SECONDS       wall time per step (default 0.2)
  TRAINER_CHECKPOINT_EVERY   checkpoint every N steps (default 2)
  TRAINER_KEEP_CHECKPOINTS   keep only the newest N checkpoints, deleting older ones (default: keep all)
  TRAINER_FAIL_AT_STEP       exit with TRAINER_FAIL_EXIT_CODE (default 3) when reaching this step
  TRAINER_FAIL_ONLY_FRESH    "1": fail only when not resumed from a checkpoint
  TRAINER_NAN_AT_STEP        report a NaN loss at this step (convergence check)
  TRAINER_FLAT_LOSS          "1": the loss never decreases
  TRAINER_LAUNCH_FILE        launch-count file (default $HOME/trainer-launches.txt)
  TRAINER_HOLD_FILE          while this file exists, wait before the next step (a test holds the
                             training still while it plays an outage, whatever the machine's load)
"""

import json
import os
import sys
import time


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value else default


def main():
    steps = env_int("TRAINER_STEPS", 10)
    step_seconds = float(os.environ.get("TRAINER_STEP_SECONDS", "0.2"))
    every = env_int("TRAINER_CHECKPOINT_EVERY", 2)
    keep = env_int("TRAINER_KEEP_CHECKPOINTS", 0)
    fail_at = env_int("TRAINER_FAIL_AT_STEP", -1)
    fail_code = env_int("TRAINER_FAIL_EXIT_CODE", 3)
    nan_at = env_int("TRAINER_NAN_AT_STEP", -1)
    flat = os.environ.get("TRAINER_FLAT_LOSS") == "1"
    run_dir = os.environ.get("RUN_DIR", os.getcwd())
    checkpoints = os.environ.get("CHECKPOINT_DIR", os.path.join(run_dir, "checkpoints"))
    metrics_file = os.environ.get("METRICS_FILE", os.path.join(run_dir, "metrics.jsonl"))
    output_dir = os.environ.get("OUTPUT_DIR", os.path.join(run_dir, "output"))
    launch_file = os.environ.get(
        "TRAINER_LAUNCH_FILE", os.path.join(os.path.expanduser("~"), "trainer-launches.txt")
    )
    resume_from = os.environ.get("RESUME_FROM", "")
    os.makedirs(checkpoints, exist_ok=True)
    os.makedirs(output_dir, exist_ok=True)

    with open(launch_file, "a") as launches:
        launches.write(f"{os.path.basename(run_dir)} {os.getpid()} {time.time():.3f}\n")

    start = 0
    if resume_from:
        with open(resume_from) as handle:
            start = json.load(handle)["step"] + 1
        print(f"resuming from {resume_from} at step {start}", flush=True)
    fail_only_fresh = os.environ.get("TRAINER_FAIL_ONLY_FRESH") == "1"
    hold_file = os.environ.get("TRAINER_HOLD_FILE", "")

    loss = None
    for step in range(start, steps):
        while hold_file and os.path.exists(hold_file):
            time.sleep(0.05)
        time.sleep(step_seconds)
        loss = 1.0 if flat else 1.0 / (1.0 + 0.3 * step)
        if step == nan_at:
            loss = float("nan")
        metric = {"step": step, "loss": loss, "val_loss": loss * 1.1, "ts": time.time()}
        with open(metrics_file, "a") as handle:
            handle.write(json.dumps(metric) + "\n")
        print(f"step {step} loss {loss:.4f}", flush=True)
        if (step + 1) % every == 0:
            path = os.path.join(checkpoints, f"step-{step:06d}.json")
            with open(path + ".tmp", "w") as handle:
                json.dump({"step": step, "loss": loss}, handle)
            os.replace(path + ".tmp", path)
            if keep > 0:
                kept = sorted(name for name in os.listdir(checkpoints) if not name.endswith(".tmp"))
                for old in kept[:-keep]:
                    os.remove(os.path.join(checkpoints, old))
        if step == fail_at and not (fail_only_fresh and resume_from):
            print(f"failing at step {step} as asked", file=sys.stderr, flush=True)
            sys.exit(fail_code)

    with open(os.path.join(output_dir, "model.json"), "w") as handle:
        json.dump({"steps": steps, "final_loss": loss}, handle)
    print("training done", flush=True)


if __name__ == "__main__":
    main()
