// AssemblyScript, one of the entries of kernels.wasm (`npm run build:wasm`).

/** First byte the caller may lay out buffers from: below it lies the module's own static data. */
export function heapBase(): usize {
  return __heap_base;
}
