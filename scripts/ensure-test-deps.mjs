// Before the tests: make sure PostgreSQL (Debian's package) is installed for the tests that
// start a throwaway server. As root it is installed when missing; otherwise this says how.
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"

const root = "/usr/lib/postgresql"
const installed = () =>
  NodeFs.existsSync(root) && NodeFs.readdirSync(root).some((v) => NodeFs.existsSync(`${root}/${v}/bin/initdb`))

if (!installed()) {
  if (process.getuid?.() !== 0) {
    console.error("PostgreSQL is missing: install Debian's postgresql package (sudo apt-get install postgresql), then run the tests again")
    process.exit(1)
  }
  console.error("installing PostgreSQL (Debian's postgresql package) for the tests…")
  const apt = (args) => spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } })
  if (apt(["install", "-y", "-qq", "postgresql"]).status !== 0 || !installed()) {
    apt(["update", "-qq"])
    if (apt(["install", "-y", "-qq", "postgresql"]).status !== 0 || !installed()) {
      console.error("could not install PostgreSQL with apt-get")
      process.exit(1)
    }
  }
}
