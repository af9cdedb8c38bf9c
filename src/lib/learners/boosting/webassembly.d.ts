/**
 * The parts of the WebAssembly JavaScript API the boosting kernels use (kernels.ts, chunks.ts).
 * Node has the API; TypeScript declares it only in the DOM library, which this project does not load.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array)
  }
  interface MemoryDescriptor {
    readonly initial: number
    readonly maximum?: number
    readonly shared?: boolean
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor)
    readonly buffer: ArrayBuffer | SharedArrayBuffer
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>)
    readonly exports: Record<string, unknown>
  }
}
