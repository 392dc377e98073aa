/** V8's stack-trace limit, which shared/errors.ts sets around refusals (browsers running V8 have it too). */
interface ErrorConstructor {
  stackTraceLimit: number;
}
