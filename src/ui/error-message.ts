// How the page words a failed worker call: a WorkerError's message with its suggestion, any
// other error's message; and whether a call was cancelled (which the page does not report).
import { isWorkerError } from '../worker/protocol.ts';

export function messageOf(e: unknown): string {
  if (isWorkerError(e)) return e.suggestion ? `${e.message}. ${e.suggestion}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

export const isCancelled = (e: unknown): boolean => isWorkerError(e) && e.kind === 'cancelled';
