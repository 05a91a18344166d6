import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Physical cores this process may use: distinct (physical id, core id) pairs in /proc/cpuinfo,
 * so hyper-threads sharing a core's FPU count once, capped by the CPUs the process may run on.
 * Elsewhere, or where /proc/cpuinfo lacks the fields (many ARM and container kernels), the
 * logical CPU count.
 */
export function physicalCores(cpuinfo: () => string = () => readFileSync('/proc/cpuinfo', 'utf8')): number {
  const logical = availableParallelism();
  let text: string;
  try {
    text = cpuinfo();
  } catch {
    return logical;
  }
  const cores = new Set<string>();
  for (const processor of text.split(/\n\s*\n/)) {
    const physical = /^physical id\s*:\s*(\d+)/m.exec(processor)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(processor)?.[1];
    if (physical !== undefined && core !== undefined) cores.add(`${physical}/${core}`);
  }
  return cores.size === 0 ? logical : Math.min(cores.size, logical);
}
