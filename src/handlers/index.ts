/** The handler map: exactly one handler per operationId in spec/lucid.yaml, and the scope each needs. */
import type { Scope } from '../auth.js';
import { deleteKey } from './deleteKey.js';
import { getConsole } from './getConsole.js';
import { getDocs } from './getDocs.js';
import { getHealth } from './getHealth.js';
import { getKey } from './getKey.js';
import { getMetrics } from './getMetrics.js';
import { getOpenApiJson } from './getOpenApiJson.js';
import { getOpenApiYaml } from './getOpenApiYaml.js';
import { getRoot } from './getRoot.js';
import { headKey } from './headKey.js';
import { listKeys } from './listKeys.js';
import { patchKey } from './patchKey.js';
import { putKey } from './putKey.js';
import { streamNotifications } from './streamNotifications.js';
import { transaction } from './transaction.js';
import type { HandlerMap, OperationId } from './types.js';

export const handlers: HandlerMap = {
  getRoot,
  getConsole,
  getHealth,
  getOpenApiYaml,
  getOpenApiJson,
  getDocs,
  getMetrics,
  listKeys,
  streamNotifications,
  putKey,
  getKey,
  headKey,
  deleteKey,
  patchKey,
  transaction,
};

/** The scope a token needs for each operation (null: no token at all). Checked in one place, app.ts. */
export const requiredScope: { [Op in OperationId]: Scope | null } = {
  getHealth: null,
  getOpenApiYaml: null,
  getOpenApiJson: null,
  getDocs: null,
  getRoot: null,
  getConsole: null,
  getMetrics: 'admin',
  listKeys: 'read',
  streamNotifications: 'read',
  getKey: 'read',
  headKey: 'read',
  putKey: 'write',
  deleteKey: 'write',
  patchKey: 'write',
  // Read to run at all; the handler asks for write when the body holds a write op.
  transaction: 'read',
};
