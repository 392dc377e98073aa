/** The part of s3rver's API the tests use (the package ships no types). */
declare module 's3rver' {
  interface S3rverOptions {
    port?: number;
    address?: string;
    silent?: boolean;
    directory: string;
    configureBuckets?: Array<{ name: string; configs: unknown[] }>;
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    /** Creates `configureBuckets` in the store (run() does it before listening). */
    configureBuckets(): Promise<void>;
    /** The Koa request listener, for a server of the caller's own. */
    callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>;
    readonly store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
  }
}
