/**
 * shared/errors.ts sets V8's `Error.stackTraceLimit` (a no-op elsewhere). The package builds
 * without Node's types (it runs in browsers), so it declares that one property as @types/node does.
 */
interface ErrorConstructor {
  stackTraceLimit: number;
}
