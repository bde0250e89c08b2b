import type { ShopdataConfig } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import type { SourceTable } from '../../vault/types.js';
import { ConfigError } from '../../errors/index.js';
import { S3LakeIO, openLake, type LakeIO, type LakeObject, type ReadOptions } from '../io.js';
import { metadataVersion, type LoadedMetadata } from '../iceberg/metadata.js';
import type { IcebergTableRef } from '../iceberg/table.js';
import { pathTables, type LakeTables } from '../tables.js';
import { RestCatalog, type Requirement } from './rest.js';

export { RestCatalog } from './rest.js';

/**
 * Lake tables through an Iceberg REST catalog: `<namespace>.<table>` wherever the catalog puts
 * them (docs/CONTRACT.md §2, §5). Reading uses the catalog's current metadata location; writing commits
 * through the catalog with `assert-ref-snapshot-id`, so concurrent writers (archive, the Iceberg
 * Kafka Connect sink) never lose each other's snapshots.
 */

export interface CatalogBinding {
  catalog: RestCatalog;
  namespace: string;
}

/** An IO for catalog tables: objects on S3 anywhere (the catalog decides), local files only below the lake. */
export class CatalogIO implements LakeIO {
  readonly kind: 's3' | 'local';
  readonly root: string;
  constructor(
    private readonly s3: S3LakeIO,
    private readonly local: LakeIO | undefined,
    readonly catalog: CatalogBinding,
  ) {
    this.kind = 's3';
    this.root = `${catalog.catalog.display} (namespace ${catalog.namespace})`;
  }
  private pick(uri: string): LakeIO {
    if (/^s3a?:\/\//.test(uri)) return this.s3;
    if (this.local) return this.local;
    return this.s3; // refuses it, naming the object
  }
  get endpoint(): string | undefined {
    return this.s3.endpoint;
  }
  /** The S3 root its client was opened with (it reads any bucket the catalog names). */
  get objectStoreRoot(): string {
    return this.s3.root;
  }
  /** Tables may also sit in a local lake directory. */
  get hasLocalFiles(): boolean {
    return this.local !== undefined;
  }
  url(...parts: string[]): string {
    return this.s3.url(...parts);
  }
  list(prefixUri: string): Promise<LakeObject[]> {
    return this.pick(prefixUri).list(prefixUri);
  }
  size(uri: string): Promise<number | undefined> {
    return this.pick(uri).size(uri);
  }
  read(uri: string, opts?: ReadOptions): Promise<Uint8Array> {
    return this.pick(uri).read(uri, opts);
  }
  readRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    return this.pick(uri).readRange(uri, start, end);
  }
  write(uri: string, data: Uint8Array | string): Promise<void> {
    return this.pick(uri).write(uri, data);
  }
  writeIfAbsent(uri: string, data: Uint8Array | string): Promise<boolean> {
    return this.pick(uri).writeIfAbsent(uri, data);
  }
  deletePrefix(prefixUri: string): Promise<number> {
    return this.pick(prefixUri).deletePrefix(prefixUri);
  }
  close(): void {
    this.s3.close();
    this.local?.close();
  }
}

export function isCatalogIO(io: LakeIO): io is CatalogIO {
  return io instanceof CatalogIO;
}

/** The catalog of the configuration, or undefined when tables are path-based. */
export function configuredCatalog(config: ShopdataConfig, logger?: Logger): CatalogBinding | undefined {
  const c = config.lake.catalog;
  if (!c?.uri) return undefined;
  const env = process.env;
  const token = env.SHOPDATA_ICEBERG_CATALOG_TOKEN || undefined;
  const credential = env.SHOPDATA_ICEBERG_CATALOG_CREDENTIAL || undefined;
  if (token && credential) {
    throw new ConfigError(
      'Both SHOPDATA_ICEBERG_CATALOG_TOKEN and SHOPDATA_ICEBERG_CATALOG_CREDENTIAL are set.',
      {
        hint: 'Set one: a bearer token, or OAuth2 client credentials as client_id:client_secret.',
      },
    );
  }
  return {
    namespace: c.namespace,
    catalog: new RestCatalog({
      uri: c.uri,
      warehouse: c.warehouse,
      token,
      credential,
      oauth2ServerUri: c.oauth2ServerUri,
      scope: c.scope,
      logger,
    }),
  };
}

/** Opens the configured lake's IO: a catalog IO when a catalog is configured. */
export function openCatalogIO(config: ShopdataConfig, binding: CatalogBinding): CatalogIO {
  const lakeUri = config.lake.uri;
  const s3Root = /^s3a?:\/\//.test(lakeUri) ? lakeUri : 's3://iceberg-catalog';
  const s3 = new S3LakeIO(s3Root, {
    s3Endpoint: config.lake.s3Endpoint,
    s3Region: config.lake.s3Region,
    anywhere: true,
  });
  const local = /^s3a?:\/\//.test(lakeUri) ? undefined : openLake(lakeUri);
  return new CatalogIO(s3, local, binding);
}

/** One table of the catalog as a commit target. */
export function catalogTable(io: LakeIO, binding: CatalogBinding, table: string): IcebergTableRef {
  const { catalog, namespace } = binding;
  const toLoaded = (r: {
    metadataLocation: string;
    metadata: LoadedMetadata['metadata'];
  }): LoadedMetadata => ({
    uri: r.metadataLocation,
    version: metadataVersion(r.metadataLocation),
    metadata: r.metadata,
  });
  return {
    name: `${namespace}.${table}`,
    io,
    createFirst: true,
    async load() {
      const r = await catalog.loadTable(namespace, table);
      return r ? toLoaded(r) : undefined;
    },
    location(current) {
      return String(current?.metadata.location ?? '').replace(/\/+$/, '');
    },
    async create(initial) {
      await catalog.createNamespace(namespace);
      const schema = initial.schemas[0]!;
      const spec = initial['partition-specs'][0]!;
      const r = await catalog.createTable(namespace, table, {
        schema,
        'partition-spec': spec,
        'write-order': { 'order-id': 0, fields: [] },
        properties: { ...initial.properties, 'format-version': '2' },
      });
      return toLoaded(r);
    },
    async publish(current, next, snapshot) {
      const md = current!.metadata;
      // Snapshots the writer expired (maintenance.ts): the catalog drops them too.
      const kept = new Set((next.snapshots ?? []).map((s) => String(s['snapshot-id'])));
      const expired = (md.snapshots ?? []).filter((s) => !kept.has(String(s['snapshot-id'])));
      const parent = md.refs?.main?.['snapshot-id'] ?? md['current-snapshot-id'] ?? null;
      const requirements: Requirement[] = [
        { type: 'assert-table-uuid', uuid: md['table-uuid'] },
        { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parent === -1 ? null : parent },
      ];
      const res = await catalog.commit(namespace, table, requirements, [
        { action: 'add-snapshot', snapshot },
        {
          action: 'set-snapshot-ref',
          'ref-name': 'main',
          type: 'branch',
          'snapshot-id': snapshot['snapshot-id'],
        },
        ...(expired.length
          ? [{ action: 'remove-snapshots', 'snapshot-ids': expired.map((s) => s['snapshot-id']) }]
          : []),
      ]);
      return res === 'conflict' ? 'conflict' : { metadataUri: res.metadataLocation };
    },
  };
}

/** The lake's changelog tables as configured: through the REST catalog, or path-based. */
export async function openLakeTables(
  config: ShopdataConfig,
  opts: { logger?: Logger } = {},
): Promise<LakeTables> {
  const binding = configuredCatalog(config, opts.logger);
  if (!binding) {
    const { openConfiguredLake } = await import('../index.js');
    return pathTables(openConfiguredLake(config));
  }
  const io = openCatalogIO(config, binding);
  return {
    description: io.root,
    io,
    ref: (t: SourceTable) => catalogTable(io, binding, t),
  };
}
