/**
 * A request schema with a fast path. Effect Schema decodes a value by interpreting the
 * schema for every element: for a 100-row prediction that was about a quarter of the
 * request's CPU. Most bodies need none of it: they are valid and the schema would return
 * them unchanged. `withFastPath(schema, unchanged)` checks a body with `unchanged` (one plain
 * pass over it) and accepts it as it is; any other body is decoded by the schema itself, so
 * what is refused is refused by the schema, with its errors word for word. The schema is the
 * declaration's surrogate and carries the same annotations: the OpenAPI document, the JSON
 * Schema and the error messages that name it are those of the schema.
 */
import { ParseResult, Schema, SchemaAST } from "effect"

export const withFastPath = <A, I>(schema: Schema.Schema<A, I>, unchanged: (u: unknown) => u is A & I): Schema.Schema<A, I> =>
  Schema.declare([schema], {
    decode: (s) => (input, options) => (unchanged(input) ? ParseResult.succeed(input) : ParseResult.decodeUnknown(s)(input, options)),
    encode: (s) => (input, options) => ParseResult.encodeUnknown(s)(input, options)
  }, { ...schema.ast.annotations, [SchemaAST.SurrogateAnnotationId]: schema.ast })
