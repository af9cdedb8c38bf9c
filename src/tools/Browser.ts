/**
 * A headless Chromium for the browser tests and `npm run screenshot`, on any machine of this
 * image: CHROMIUM_PATH if set, else Debian's /usr/bin/chromium if installed, else the
 * Chromium that @sparticuz/chromium ships inside its npm package. That build needs libnss3
 * and libnspr4, which a fresh machine lacks; the package carries them (bin/al2023.tar.br) but
 * unpacks them only on AWS Lambda, so they are unpacked here and put on LD_LIBRARY_PATH of
 * the browser process alone.
 */
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { createRequire } from "node:module"
import type { Browser } from "playwright-core"

export interface BrowserSetup {
  readonly source: "CHROMIUM_PATH" | "debian" | "sparticuz"
  readonly executablePath: string
  /** extra environment of the browser process (LD_LIBRARY_PATH for the packaged libraries) */
  readonly env: Readonly<Record<string, string>>
  /** where the packaged libnss3/libnspr4 were unpacked (sparticuz only) */
  readonly libDir: string | null
}

const DEBIAN = "/usr/bin/chromium"

/** The packaged Chromium, unpacked (once, into the temp folder), with its libraries. */
export const sparticuzSetup = async (): Promise<BrowserSetup> => {
  const { default: Chromium, inflate } = await import("@sparticuz/chromium")
  const bin = NodePath.join(NodePath.dirname(createRequire(import.meta.url).resolve("@sparticuz/chromium")), "..", "bin")
  const executablePath = await Chromium.executablePath(bin)
  const libDir = NodePath.join(await inflate(NodePath.join(bin, "al2023.tar.br")), "lib")
  const inherited = process.env.LD_LIBRARY_PATH
  return {
    source: "sparticuz",
    executablePath,
    env: { LD_LIBRARY_PATH: inherited ? `${libDir}:${inherited}` : libDir },
    libDir
  }
}

export const chromiumSetup = async (): Promise<BrowserSetup> => {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv) return { source: "CHROMIUM_PATH", executablePath: fromEnv, env: {}, libDir: null }
  if (NodeFs.existsSync(DEBIAN)) return { source: "debian", executablePath: DEBIAN, env: {}, libDir: null }
  return sparticuzSetup()
}

/** Shared libraries the binary cannot find in this setup, as `ldd` reports them. */
export const missingLibraries = (setup: BrowserSetup): ReadonlyArray<string> => {
  const r = spawnSync("ldd", [setup.executablePath], { encoding: "utf8", env: { ...process.env, ...setup.env } })
  return r.stdout.split("\n").filter((l) => l.includes("not found")).map((l) => l.trim())
}

/** Where `ldd` resolves a library in this setup (null when not found). */
export const resolvedLibrary = (setup: BrowserSetup, name: string): string | null => {
  const r = spawnSync("ldd", [setup.executablePath], { encoding: "utf8", env: { ...process.env, ...setup.env } })
  const line = r.stdout.split("\n").find((l) => l.trim().startsWith(name))
  const m = line ? /=>\s+(\S+)/.exec(line) : null
  return m && m[1] !== "not" ? m[1]! : null
}

/** The flags this machine needs: no sandbox as root, and no background traffic to hosts it cannot reach. */
export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--lang=en-US"
]

export const launchChromium = async (setup?: BrowserSetup): Promise<Browser> => {
  const s = setup ?? (await chromiumSetup())
  const { chromium } = await import("playwright-core")
  return chromium.launch({
    executablePath: s.executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    // a POSIX locale ("en_US@posix") is no valid language tag for the page's Intl
    env: { ...process.env, LANG: "en_US.UTF-8", LC_ALL: "en_US.UTF-8", ...s.env } as Record<string, string>
  })
}
