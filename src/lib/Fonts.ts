/** The bundled DejaVu TrueType fonts (npm dejavu-fonts-ttf): full Unicode text in PNG and PDF output. */
import { createRequire } from "node:module"
import * as NodePath from "node:path"

const require = createRequire(import.meta.url)
const dir = NodePath.join(NodePath.dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf")

export const fontPath = (bold = false) => NodePath.join(dir, bold ? "DejaVuSans-Bold.ttf" : "DejaVuSans.ttf")
