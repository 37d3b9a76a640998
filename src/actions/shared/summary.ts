/**
 * Every action writes a job summary, on success and on failure: the failure's summary (❌, the cause
 * and the fix in an alert block) is written here, then the error goes on to fail the step as before.
 */
import { RestoreRefused } from '../../domain/restore-authorization.js';
import { errorMessage } from '../../engine/errors.js';
import { explainError, failureSummary, type FailedRun } from '../../engine/summaries.js';
import { actionsLogger, writeSummary } from './toolkit.js';

/**
 * Runs an action's work; if it throws, writes the failure summary and rethrows. `asked` is read when
 * the failure happens, so the work can fill in what it learned (the space, the backup id) as it goes.
 */
export async function withFailureSummary<T>(asked: FailedRun, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (asked.summarized) throw error;
    const refused = asked.refused ?? error instanceof RestoreRefused;
    await writeSummary(failureSummary({ ...asked, refused }, explainError(error, errorMessage(error)))).catch((summaryError: unknown) =>
      actionsLogger.warning(`Could not write the job summary: ${errorMessage(summaryError)}`),
    );
    throw error;
  }
}
