// Kept for the callers that import it from here; the readers live in clients/ so the API can use them.
export {
  readMonitorHeartbeat,
  readTrainingProgress,
  type LiveTrainingProgress,
} from '../../clients/training-progress';
