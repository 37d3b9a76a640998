/**
 * The wipe's refusal check, run on its own before a restore starts: it changes nothing, and names every
 * object in the target that the connecting role may not drop. The same check runs again as the first part
 * of the wipe itself, inside the restore's transaction, so nothing created in between can slip through.
 */
import { RestoreRefused } from '../../domain/restore-authorization.js';
import { errorMessage } from '../errors.js';
import { connectOrExplain, type DatabaseConnection } from '../postgres/connection.js';
import { wipeRefusalSql } from './sql.js';

export async function assertTargetWipeable(connection: DatabaseConnection): Promise<void> {
  const client = await connectOrExplain(connection);
  try {
    await client.query(wipeRefusalSql());
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '42501') throw error;
    throw new RestoreRefused({
      reason: `The target ${connection.description} holds objects the restore would have to drop and the role in 'database-url' may not drop; nothing was changed. ${errorMessage(error)}`,
      fix: 'Give those objects to the restoring role or drop them as their owner (the fix for each is given above), or set \'database-url\' to a role that may drop them.',
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}
