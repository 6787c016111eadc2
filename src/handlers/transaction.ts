import { prepareCondition, prepareOp, runTxn, checkTxn, type TxnRequest } from '../txn.js';
import { sniffContentType } from './putKey.js';
import type { Handler } from './types.js';

/**
 * POST /api/txn: checks every key and op against the token, prepares the values, then runs the branch the compares
 * choose.
 */
export const transaction: Handler<'transaction'> = async ({ body, store, principal }) => {
  const request: TxnRequest = body;
  checkTxn(request, principal);
  const conditions = (request.compare ?? []).map(prepareCondition);
  const prepare = (ops: TxnRequest['success']) => Promise.all((ops ?? []).map((op) => prepareOp(op, sniffContentType)));
  const [success, failure] = await Promise.all([prepare(request.success), prepare(request.failure)]);
  const outcome = await runTxn(store, conditions, { success, failure });
  return { status: 200, body: outcome };
};
