/** A project folder for the built CLI: the shipped sample data and config.json, in a temporary folder. */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

export const ROOT = NodePath.resolve(import.meta.dirname, "..", "..")
export const MAIN = NodePath.join(ROOT, "dist", "main.js")

export const sampleProject = (prefix: string): string => {
  if (!NodeFs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first (npm test does)`)
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `drs-${prefix}-`))
  NodeFs.cpSync(NodePath.join(ROOT, "data", "sourcedata"), NodePath.join(dir, "data", "sourcedata"), { recursive: true })
  NodeFs.cpSync(NodePath.join(ROOT, "data", "testdata"), NodePath.join(dir, "data", "testdata"), { recursive: true })
  NodeFs.copyFileSync(NodePath.join(ROOT, "config.json"), NodePath.join(dir, "config.json"))
  return dir
}
