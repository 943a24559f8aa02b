/**
 * Ties a response schema to the library type it publishes, at compile time:
 * `mirrors<LibraryType>()(schema)` compiles only when
 *
 *   1. what the schema outputs is a LibraryType (`z.ZodType<T>`),
 *   2. every LibraryType value is one the schema accepts (else the server would refuse its own
 *      answer: a new enum member in the library, a field the schema narrowed), and
 *   3. the two have the same fields at every depth, optional ones included — which 1 and 2 cannot
 *      see: a schema without the type's optional `gpuUtilPercent` passes both, and zod would strip
 *      the field from every answer.
 *
 * A field added to the library type and not to its schema (or the other way round) fails `tsc`
 * naming it: `… required in type '{ [mirrorMismatch]: "the schema lacks usage.gpuUtilPercent" }'`.
 * Where the API states a field more precisely than the library's type does (a run's `state` is
 * typed `string` there, a RunState here), `mirrors<LibraryType, { state: RunState }>()` says so: the
 * schema is held to the library type with those fields replaced. Readonly-ness is not compared
 * (answers are JSON). Nothing happens at run time: the schema is returned as it is.
 */
import type { z } from 'zod'

/** An object's own fields, looking through arrays, null and undefined. */
type Inner<T> = T extends readonly (infer E)[] ? Inner<E> : Exclude<T, null | undefined>

/** The dotted paths of the fields of A, at any depth, that B does not have. */
export type FieldsLacking<A, B, Path extends string = ''> = [Inner<A>, Inner<B>] extends [
  infer I extends object,
  infer J extends object,
]
  ? {
      [K in keyof I & string]-?: K extends keyof J ? FieldsLacking<I[K], J[K], `${Path}${K}.`> : `${Path}${K}`
    }[keyof I & string]
  : never

/** T without readonly, at every depth. */
type Plain<T> = T extends readonly (infer E)[]
  ? Plain<E>[]
  : T extends object
    ? { -readonly [K in keyof T]: Plain<T[K]> }
    : T

/** The top-level fields where some value of T is not one of I's. */
type Refused<T, I> = {
  [K in keyof T & string]-?: K extends keyof I ? ([T[K]] extends [I[K]] ? never : K) : never
}[keyof T & string]

/** What differs between the type T and a schema (output O, input I), in words; never when nothing does. */
export type Mismatch<T, O, I> =
  | `the schema lacks ${FieldsLacking<T, O>}`
  | `the type lacks ${FieldsLacking<O, T>}`
  | `the schema refuses some ${Refused<Plain<T>, Plain<I>>} the type allows`

declare const mirrorMismatch: unique symbol

/** Nothing when the schema mirrors T; else a field it lacks, named with what differs. */
type Mirroring<T, S extends z.ZodType> = [Mismatch<T, z.output<S>, z.input<S>>] extends [never]
  ? unknown
  : { readonly [mirrorMismatch]: Spelled<Mismatch<T, z.output<S>, z.input<S>>> }

/** The union itself, not its alias, in compiler messages. */
type Spelled<M> = M extends string ? `${M}` : never

/** LibraryType with the fields the API states more precisely replaced. */
export type Stated<T, Precise extends object> = Omit<T, keyof Precise> & Precise

/** `mirrors<LibraryType>()(schema)`: the schema, checked to publish exactly LibraryType. */
export function mirrors<T, Precise extends object = Record<never, never>>() {
  return <S extends z.ZodType<Stated<T, Precise>>>(schema: S & Mirroring<Stated<T, Precise>, S>): S => schema
}
