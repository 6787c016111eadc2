/** The handler map: exactly one handler per operationId in spec/lucid.yaml. */
import { deleteKey } from './deleteKey.js';
import { getHealth } from './getHealth.js';
import { getKey } from './getKey.js';
import { headKey } from './headKey.js';
import { patchKey } from './patchKey.js';
import { putKey } from './putKey.js';
import type { HandlerMap } from './types.js';

export const handlers: HandlerMap = { getHealth, putKey, getKey, headKey, deleteKey, patchKey };
