/** Cancels one request from a process of its own: `cancel-process.ts REQUEST_ID USER_ID`. */
import { parseConfig } from '../../core/config.js';
import { createLogger } from '../../core/logging.js';
import { openRuntime } from '../../core/runtime.js';
import { StembotCore } from '../../core/stembot-core.js';

const [requestId, userId] = process.argv.slice(2) as [string, string];
const config = parseConfig(process.env);
const logger = createLogger({ level: 'warn', pretty: false });
const runtime = await openRuntime(config, logger, { migrate: false });
const unused = { inspect: () => Promise.reject(new Error('unused')), open: () => Promise.reject(new Error('unused')) };
const core = new StembotCore({ em: runtime.orm.em, config, queues: runtime.queues, fetchers: { youtube: unused, attachment: unused }, logger });
await core.cancel(requestId, { userId, isAdmin: false });
await core.close();
await runtime.close();
console.log('cancelled');
