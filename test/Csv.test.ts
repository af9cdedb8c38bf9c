import { assert, describe, it } from "@effect/vitest"
import { readRows, toCsv } from "../src/lib/Csv.js"
import { CsvError } from "../src/domain/Errors.js"
import type { Row } from "../src/domain/Schemas.js"
import { row } from "./layers.js"

async function* chunks(text: string | Uint8Array, size = 7) {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

const read = async (text: string | Uint8Array) => {
  const rows: Array<Row> = []
  await readRows("f.csv", chunks(text), (r) => rows.push(r))
  return rows
}

const failure = async (text: string | Uint8Array): Promise<CsvError> => {
  try {
    await read(text)
  } catch (e) {
    assert.instanceOf(e, CsvError)
    return e as CsvError
  }
  throw new Error("expected a CsvError")
}

const HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"

describe("CSV reading", () => {
  it("reads rows across chunk boundaries, with missing values as null", async () => {
    const rows = await read(`${HEADER}abcd,10,200,3,1\nefgh,,NA,4,0\n\n`)
    assert.deepStrictEqual(rows, [row("abcd", 10, 200, 3, 1), row("efgh", null, null, 4, 0)])
  })

  it("accepts the columns in any order and a UTF-8 BOM", async () => {
    const rows = await read("\uFEFFexited,corporation,number_of_employees,lastyear_activity,lastmonth_activity\n1,zz,5,6,7\n")
    assert.deepStrictEqual(rows, [row("zz", 7, 6, 5, 1)])
  })

  it("names file, row and column of a non-numeric value", async () => {
    const e = await failure(`${HEADER}abcd,10,200,3,1\nefgh,12,lots,4,0\n`)
    assert.strictEqual(e.file, "f.csv")
    assert.strictEqual(e.row, 2)
    assert.strictEqual(e.column, "lastyear_activity")
    assert.include(e.message, `f.csv, row 2, column "lastyear_activity": "lots" is not a number`)
  })

  it("rejects a label other than 0 or 1", async () => {
    const e = await failure(`${HEADER}abcd,10,200,3,2\n`)
    assert.strictEqual(e.column, "exited")
    assert.strictEqual(e.row, 1)
  })

  it("rejects a wrong header, naming what is missing and unexpected", async () => {
    const e = await failure("corp,lastmonth_activity,lastyear_activity,number_of_employees,exited\nabcd,1,2,3,0\n")
    assert.include(e.reason, "missing column(s) corporation")
    assert.include(e.reason, "unexpected column(s) corp")
  })

  it("rejects a row with the wrong number of fields", async () => {
    const e = await failure(`${HEADER}abcd,10,200,3\n`)
    assert.strictEqual(e.row, 1)
    assert.include(e.reason, "expected 5 fields, found 4")
  })

  it("rejects an empty file", async () => {
    const e = await failure("")
    assert.include(e.reason, "empty")
  })

  it("rejects binary content", async () => {
    const e = await failure(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))
    assert.include(e.reason, "binary")
  })

  it("rejects hex, infinities and other number lookalikes", async () => {
    assert.strictEqual((await failure(`${HEADER}a,0x10,1,1,0\n`)).column, "lastmonth_activity")
    assert.include((await failure(`${HEADER}a,1e999,1,1,0\n`)).reason, "out of range")
  })

  it("writes CSV that reads back identically, quoting where needed", async () => {
    const rows = [row("plain", 1, 2, 3, 0), row('comma, "quote"', 1.5, null, 3, 1), row("Müller ÄG", 0, 0, 1, 0)]
    assert.deepStrictEqual(await read(toCsv(rows)), rows)
  })
})
