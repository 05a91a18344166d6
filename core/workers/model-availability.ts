import { UserError } from '../errors.js';
import type { WorkerDirectory } from './worker-directory.js';

/**
 * Refuses, before anything is charged or downloaded, a model no live worker can run: the user
 * hears it now, in chat words, instead of the job failing in a worker later. Operators' details
 * (which host, which URL failed) stay in the workers' logs and `stembot status`.
 */
export async function requireServedModel(workers: WorkerDirectory, model: string): Promise<void> {
  const availability = await workers.availabilityOf(model);
  if (availability.kind === 'served') return;
  if (availability.kind === 'fetching' && !availability.failing) {
    const progress = availability.fraction === undefined ? '' : ` (${Math.floor(availability.fraction * 100)} % downloaded)`;
    throw new UserError('model_unavailable', `The ${model} model is still being set up on this bot${progress}; try again in a few minutes. Nothing was charged.`);
  }
  if (availability.kind === 'fetching') {
    throw new UserError('model_unavailable', `This bot cannot download the ${model} model right now, so nothing can be separated with it yet; its operator can see why in the logs. Nothing was charged.`);
  }
  throw new UserError('model_unavailable', `No worker is running the ${model} model right now, so this cannot start; try again later. Nothing was charged.`);
}
