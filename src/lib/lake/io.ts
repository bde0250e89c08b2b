import { promises as fs } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  S3Client,
  GetObjectCommand,
  PutObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  DeleteObjectsCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  ConfigError,
  DependencyUnavailableError,
  DataProblemError,
  isNetworkError,
} from '../errors/index.js';

/** One object (file) of the lake. `uri` is absolute: `s3://bucket/key` or `/abs/path`. */
export interface LakeObject {
  uri: string;
  size: number;
}

/**
 * One interface over the two lake kinds (docs/CONTRACT.md §5): an S3 prefix and a local directory.
 * Every address is an absolute URI so that locations stored inside Iceberg metadata (which are
 * absolute) can be read as they are; `url()` builds them from paths relative to the lake root.
 */
export interface LakeIO {
  readonly kind: 's3' | 'local';
  /** `s3://bucket/prefix` (no trailing slash) or an absolute directory. */
  readonly root: string;
  url(...parts: string[]): string;
  /** All objects below `prefixUri` (recursive), sorted by URI. Missing prefix → []. */
  list(prefixUri: string): Promise<LakeObject[]>;
  /** Size of an object, or undefined when it does not exist. */
  size(uri: string): Promise<number | undefined>;
  /** The whole object; more than `maxBytes` is refused (exit 1, naming the object). */
  read(uri: string, opts?: ReadOptions): Promise<Uint8Array>;
  /** Bytes [start, end) of an object: Parquet footers and column chunks without whole-file reads. */
  readRange(uri: string, start: number, end: number): Promise<Uint8Array>;
  write(uri: string, data: Uint8Array | string): Promise<void>;
  /** Writes only if nothing exists at `uri`; false if something did (the Iceberg commit race). */
  writeIfAbsent(uri: string, data: Uint8Array | string): Promise<boolean>;
  deletePrefix(prefixUri: string): Promise<number>;
  close(): void;
}

export interface ReadOptions {
  /** Refuse objects larger than this (crafted metadata must not make us read without bounds). */
  maxBytes?: number;
}

/** Upper bounds for whole-object reads of lake metadata (far above what real tables need). */
export const READ_LIMITS = {
  /** Table metadata JSON, version hints. */
  metadata: 64 * 1024 * 1024,
  /** Avro manifest lists and manifests. */
  manifest: 256 * 1024 * 1024,
  /** Parquet footers (file metadata). */
  parquetFooter: 64 * 1024 * 1024,
} as const;

export interface LakeIOOptions {
  s3Endpoint?: string | undefined;
  s3Region?: string | undefined;
  /** Attempts for each S3 request on network errors and throttling (SDK retries with backoff). */
  maxAttempts?: number;
  /** Base directory for a relative local lake path. */
  cwd?: string;
  /**
   * Objects outside the lake root may be read: tables of a REST catalog live wherever the
   * catalog puts them. Path-based lakes are confined to their root (a crafted or copied
   * table's metadata must not make us read elsewhere).
   */
  anywhere?: boolean;
}

/** Opens `s3://bucket/prefix` or a local directory (relative paths resolve against `cwd`). */
export function openLake(uri: string, opts: LakeIOOptions = {}): LakeIO {
  if (uri.startsWith('s3://') || uri.startsWith('s3a://')) return new S3LakeIO(uri, opts);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) {
    throw new ConfigError(`Unsupported lake URI "${uri}".`, {
      hint: 'Use s3://bucket/prefix or a local directory (SHOPDATA_LAKE / --lake).',
    });
  }
  const dir = uri.startsWith('file://') ? fileURLToPath(uri) : resolve(opts.cwd ?? process.cwd(), uri);
  return new LocalLakeIO(dir);
}

/** An object a lake's metadata points at, outside the lake: refused, naming it (exit 1). */
export function outsideLake(uri: string, root: string): DataProblemError {
  return new DataProblemError(
    `The lake metadata refers to ${uri}, which is outside the lake ${root}; nothing was read from it.`,
    {
      hint: 'Lake tables must keep their files below the lake root. A copied lake still points at the original location: read the original, or rewrite the copy with the tool that made it.',
      details: { uri, root },
    },
  );
}

function tooLarge(uri: string, size: number, max: number): DataProblemError {
  return new DataProblemError(
    `The lake object ${uri} is ${size} bytes, more than the ${max} bytes shopdata reads for it; nothing was read.`,
    {
      hint: 'The table metadata is damaged or crafted: check the file it names.',
      details: { uri, size, max },
    },
  );
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}

// ---------------------------------------------------------------------------------------------
// Local directories

export class LocalLakeIO implements LakeIO {
  readonly kind = 'local' as const;
  private realRoot: string | undefined;
  constructor(readonly root: string) {}

  url(...parts: string[]): string {
    return join(this.root, ...parts.map(trimSlashes));
  }

  /** The absolute path of a URI, refused when it is not below the lake root. */
  private path(uri: string): string {
    let p: string;
    if (uri.startsWith('file://')) p = fileURLToPath(uri);
    else if (uri.startsWith('file:')) p = uri.slice('file:'.length);
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw outsideLake(uri, this.root);
    else p = isAbsolute(uri) ? uri : join(this.root, uri);
    p = resolve(p);
    if (!isInside(this.root, p)) throw outsideLake(uri, this.root);
    return p;
  }

  /** The path of an existing object, after symlinks, still below the (real) lake root. */
  private async realPath(uri: string): Promise<string> {
    const p = this.path(uri);
    let real: string;
    try {
      real = await fs.realpath(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw missingObject(uri);
      throw err;
    }
    this.realRoot ??= await fs.realpath(this.root).catch(() => this.root);
    if (!isInside(this.realRoot, real)) throw outsideLake(uri, this.root);
    return real;
  }

  async list(prefixUri: string): Promise<LakeObject[]> {
    const base = this.path(prefixUri);
    const out: LakeObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (
          (err as NodeJS.ErrnoException).code === 'ENOENT' ||
          (err as NodeJS.ErrnoException).code === 'ENOTDIR'
        )
          return;
        throw err;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && !e.name.startsWith('.')) out.push({ uri: p, size: (await fs.stat(p)).size });
      }
    };
    await walk(base);
    return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async size(uri: string): Promise<number | undefined> {
    try {
      const st = await fs.stat(await this.realPath(uri));
      return st.isFile() ? st.size : undefined;
    } catch (err) {
      if (err instanceof DataProblemError && (err.details as { missing?: boolean })?.missing)
        return undefined;
      throw err;
    }
  }

  /** Opens a regular file below the root (not a device, FIFO or directory). */
  private async openFile(uri: string): Promise<{ fh: fs.FileHandle; size: number }> {
    const fh = await fs.open(await this.realPath(uri), 'r');
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new DataProblemError(`The lake object ${uri} is not a regular file; nothing was read from it.`, {
        hint: 'The table metadata is damaged or crafted: check the file that names it.',
        details: { uri },
      });
    }
    return { fh, size: st.size };
  }

  async read(uri: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const { fh, size } = await this.openFile(uri);
    try {
      if (opts.maxBytes !== undefined && size > opts.maxBytes) throw tooLarge(uri, size, opts.maxBytes);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  async readRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    const { fh } = await this.openFile(uri);
    try {
      const buf = Buffer.alloc(Math.max(0, end - start));
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === buf.length ? buf : buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  async write(uri: string, data: Uint8Array | string): Promise<void> {
    const p = this.path(uri);
    await fs.mkdir(dirname(p), { recursive: true });
    // Write-then-rename: a reader never sees half a file, even if we are killed mid-write.
    const tmp = `${p}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, p);
  }

  async writeIfAbsent(uri: string, data: Uint8Array | string): Promise<boolean> {
    const p = this.path(uri);
    await fs.mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(tmp, data);
    try {
      // link() fails with EEXIST if the target exists: an atomic create-if-absent on POSIX.
      await fs.link(tmp, p);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await fs.unlink(tmp).catch(() => undefined);
    }
  }

  async deletePrefix(prefixUri: string): Promise<number> {
    const objs = await this.list(prefixUri);
    await fs.rm(this.path(prefixUri), { recursive: true, force: true });
    return objs.length;
  }

  close(): void {}
}

// ---------------------------------------------------------------------------------------------
// S3 (and S3-compatible servers with path-style addressing)

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new ConfigError(`Not an S3 URI: "${uri}".`, { hint: 'Use s3://bucket/prefix.' });
  return { bucket: m[1]!, key: m[2]! };
}

export class S3LakeIO implements LakeIO {
  readonly kind = 's3' as const;
  readonly root: string;
  readonly client: S3Client;
  readonly endpoint: string | undefined;
  private readonly anywhere: boolean;

  constructor(uri: string, opts: LakeIOOptions = {}) {
    const { bucket, key } = parseS3Uri(uri);
    this.root = `s3://${bucket}${trimSlashes(key) ? '/' + trimSlashes(key) : ''}`;
    this.endpoint = opts.s3Endpoint;
    this.anywhere = opts.anywhere ?? false;
    const config: S3ClientConfig = {
      region: opts.s3Region ?? process.env.AWS_REGION ?? 'us-east-1',
      forcePathStyle: true,
      maxAttempts: opts.maxAttempts ?? 4,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
      ...(opts.s3Endpoint ? { endpoint: opts.s3Endpoint } : {}),
    };
    this.client = new S3Client(config);
  }

  url(...parts: string[]): string {
    const rest = parts.map(trimSlashes).filter(Boolean).join('/');
    return rest ? `${this.root}/${rest}` : this.root;
  }

  /** Runs one S3 call; network failures (after the SDK's own retries) become exit 3. */
  private async call<T>(what: string, uri: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if ((err as { name?: string }).name === 'CredentialsProviderError') {
        throw new ConfigError(`No S3 credentials for ${uri}: ${describe(err)}`, {
          cause: err,
          hint: 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another standard AWS credential source).',
        });
      }
      if (isS3Unreachable(err)) {
        throw new DependencyUnavailableError(
          's3',
          `S3 is unreachable (${what} ${uri} at ${this.endpoint ?? 'AWS'}): ${describe(err)}`,
          {
            cause: err,
            hint: 'Check that the S3 server is up, SHOPDATA_S3_ENDPOINT points at it and the AWS_* credentials are right.',
          },
        );
      }
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 403 || status === 401) {
        throw new DependencyUnavailableError('s3', `S3 refused ${what} ${uri}: ${describe(err)}`, {
          cause: err,
          hint: 'Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy.',
        });
      }
      throw err;
    }
  }

  async list(prefixUri: string): Promise<LakeObject[]> {
    const { bucket, key } = this.locate(prefixUri);
    const prefix = key && !key.endsWith('/') ? key + '/' : key;
    const out: LakeObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('list', prefixUri, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key && !o.Key.endsWith('/'))
          out.push({ uri: `s3://${bucket}/${o.Key}`, size: Number(o.Size ?? 0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  /** Bucket and key of a URI, refused when it is not below the lake root (unless `anywhere`). */
  private locate(uri: string): { bucket: string; key: string } {
    const normal = uri.replace(/^s3a:\/\//, 's3://');
    if (!normal.startsWith('s3://')) throw outsideLake(uri, this.root);
    if (!this.anywhere && normal !== this.root && !normal.startsWith(this.root + '/'))
      throw outsideLake(uri, this.root);
    if (/(^|\/)\.\.(\/|$)/.test(normal)) throw outsideLake(uri, this.root);
    return parseS3Uri(normal);
  }

  async size(uri: string): Promise<number | undefined> {
    const { bucket, key } = this.locate(uri);
    try {
      const head = await this.call('head', uri, () =>
        this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      );
      return Number(head.ContentLength ?? 0);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(uri: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const { bucket, key } = this.locate(uri);
    try {
      return await this.call('get', uri, async () => {
        const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const size = Number(res.ContentLength ?? 0);
        if (opts.maxBytes !== undefined && size > opts.maxBytes) {
          (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
          throw tooLarge(uri, size, opts.maxBytes);
        }
        return res.Body!.transformToByteArray();
      });
    } catch (err) {
      if (isNotFound(err)) throw missingObject(uri);
      throw err;
    }
  }

  async readRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    const { bucket, key } = this.locate(uri);
    try {
      return await this.call('get', uri, async () => {
        const res = await this.client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
        );
        return res.Body!.transformToByteArray();
      });
    } catch (err) {
      if (isNotFound(err)) throw missingObject(uri);
      throw err;
    }
  }

  async write(uri: string, data: Uint8Array | string): Promise<void> {
    const { bucket, key } = this.locate(uri);
    await this.call('put', uri, () =>
      this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data })),
    );
  }

  async writeIfAbsent(uri: string, data: Uint8Array | string): Promise<boolean> {
    const { bucket, key } = this.locate(uri);
    try {
      await this.call('put', uri, () =>
        this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, IfNoneMatch: '*' })),
      );
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw err;
    }
  }

  async deletePrefix(prefixUri: string): Promise<number> {
    const objs = await this.list(prefixUri);
    const { bucket } = parseS3Uri(prefixUri);
    for (let i = 0; i < objs.length; i += 1000) {
      const batch = objs.slice(i, i + 1000).map((o) => ({ Key: parseS3Uri(o.uri).key }));
      await this.call('delete', prefixUri, () =>
        this.client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }),
        ),
      );
    }
    return objs.length;
  }

  close(): void {
    this.client.destroy();
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string };
  return [e.code ?? e.name, e.message].filter(Boolean).join(': ') || String(err);
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** Connection-level failures: refused, reset, DNS, timeouts, and 5xx that survived the SDK retries. */
export function isS3Unreachable(err: unknown): boolean {
  if (isNetworkError(err)) return true;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.code === 'ECONNABORTED') return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

function missingObject(uri: string): DataProblemError {
  return new DataProblemError(`The lake has no object ${uri}.`, {
    hint: 'Check the lake location (SHOPDATA_LAKE / --lake) and that the table was written there.',
    details: { uri, missing: true },
  });
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}
