/** The bearer token that guards mutating endpoints: api_token in the config, or DRS_API_TOKEN. */
import { HttpServerRequest } from "@effect/platform"
import { Config, Effect, Option, Redacted } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { Unauthorized } from "./Api.js"

/** An effect that fails with Unauthorized unless the request carries the token. */
export const makeRequireToken = Effect.gen(function*() {
  const config = yield* AppConfig
  const envToken = yield* Config.option(Config.redacted("DRS_API_TOKEN")).pipe(Effect.orDie)
  const token = Option.orElse(envToken, () => Option.map(Option.fromNullable(config.api_token), Redacted.make))
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Option.isNone(token)) {
      return yield* new Unauthorized({ message: "mutating endpoints are disabled: set api_token in the config or DRS_API_TOKEN" })
    }
    const header = request.headers["authorization"] ?? ""
    if (header !== `Bearer ${Redacted.value(token.value)}`) {
      return yield* new Unauthorized({ message: "missing or wrong bearer token" })
    }
  })
})
