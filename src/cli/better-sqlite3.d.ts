// The part of better-sqlite3 (installed with @effect/sql-sqlite-node) that QuickCheck uses.
declare module "better-sqlite3" {
  interface Statement {
    pluck(): Statement
    all(...params: Array<unknown>): Array<unknown>
  }
  class Database {
    constructor(filename: string, options?: { readonly?: boolean; fileMustExist?: boolean })
    prepare(sql: string): Statement
    close(): void
  }
  export default Database
}
