/**
 * What a `serve --workers` worker tells its primary (cli/Workers.ts) once it serves: the
 * port it listens on, shared with the other workers.
 */
export interface WorkerReady {
  readonly type: "drs:ready"
  readonly port: number
}

export const workerReady = (port: number): WorkerReady => ({ type: "drs:ready", port })

export const isWorkerReady = (m: unknown): m is WorkerReady =>
  typeof m === "object" && m !== null && (m as WorkerReady).type === "drs:ready" && typeof (m as WorkerReady).port === "number"
