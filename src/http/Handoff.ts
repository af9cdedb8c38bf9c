/**
 * The messages between the `serve --workers` primary and its workers (cli/Workers.ts,
 * http/Server.ts): a worker says it serves; the primary sends a connection's socket.
 */
export const WORKER_READY = "drs:ready"
export const WORKER_CONNECTION = "drs:connection"
