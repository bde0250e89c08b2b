import { Flags, type Command } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { connectFlags } from '../cli/flags.js';
import { ConfigError, toShopdataError, type ShopdataError } from '../errors/index.js';
import { ConnectClient } from './client.js';
import {
  ICEBERG_SINK_CLASS,
  RestCatalogClient,
  assertSinkSources,
  provisionLakeTables,
  sinkTables,
  type LakeTableReport,
} from './lake-tables.js';
import { Masker, isProviderReference, maskerFromEnvironment } from './mask.js';
import {
  DEFAULT_TEMPLATE_DIR,
  deriveVariables,
  loadTemplates,
  localFileSecrets,
  renderTemplate,
  selectTemplates,
  type RenderedConnector,
} from './template.js';

/** Flags every `connectors` command shares. */
export const connectorFlags = {
  ...connectFlags,
  'postgres-url': Flags.string({
    description:
      'PostgreSQL source as the Connect worker sees it: postgres://user@host:port/shop (host, port, user and database go into the template; a password here is never used).',
    env: 'SHOPDATA_POSTGRES_URL',
    helpGroup: 'CONNECTION',
  }),
  'mongo-url': Flags.string({
    description:
      'MongoDB source as the Connect worker sees it: mongodb://host:port/shop_events?replicaSet=rs0.',
    env: 'SHOPDATA_MONGO_URL',
    helpGroup: 'CONNECTION',
  }),
  'iceberg-catalog-uri': Flags.string({
    description:
      "Iceberg REST catalog as this machine reaches it, for the lake tables of an Iceberg sink connector (default: the template's iceberg.catalog.uri). A bearer token comes from SHOPDATA_ICEBERG_CATALOG_TOKEN.",
    env: 'SHOPDATA_ICEBERG_CATALOG_URI',
    helpGroup: 'CONNECTION',
  }),
  templates: Flags.string({
    description: 'Directory of connector templates (*.yaml).',
    env: 'SHOPDATA_CONNECT_TEMPLATES',
    default: DEFAULT_TEMPLATE_DIR,
    defaultHelp: async () => 'templates/connectors of the installed package',
    helpGroup: 'TEMPLATES',
  }),
};

export const timeoutFlag = {
  timeout: Flags.integer({
    description: 'Seconds to wait for the connector and its tasks to reach the wanted state.',
    default: 120,
    min: 1,
  }),
};

/**
 * Base of the `connectors` commands: a Connect client, the templates rendered from the layered
 * config, and a masker that every printed string passes through — results, progress lines and
 * error messages (including traces echoed from Connect).
 */
export abstract class ConnectorsCommand<T extends typeof Command> extends BaseCommand<T> {
  private masker_: Masker | undefined;
  private client_: ConnectClient | undefined;

  protected get masker(): Masker {
    if (!this.masker_) {
      let urls: Array<string | undefined> = [];
      try {
        const c = this.settings();
        urls = [c.postgres.url, c.mongo.url, c.connect.url, c.clickhouse.url];
        this.masker_ = maskerFromEnvironment(process.env, urls);
        if (c.kafka.sasl?.password) this.masker_.add(c.kafka.sasl.password);
        if (c.pii.salt) this.masker_.add(c.pii.salt);
      } catch {
        // An invalid config is reported by settings() itself; mask what the environment tells.
        this.masker_ = maskerFromEnvironment(process.env, urls);
      }
    }
    return this.masker_;
  }

  protected client(): ConnectClient {
    if (!this.client_) {
      const url = this.settings().connect.url;
      if (!url) {
        throw new ConfigError('The Kafka Connect REST URL is not set.', {
          hint: 'Set SHOPDATA_CONNECT_URL (or --connect-url, or connect.url in shopdata.yaml), e.g. http://127.0.0.1:18083.',
        });
      }
      this.client_ = new ConnectClient({
        url,
        onAttempt: (a) =>
          this.logger.debug(
            {
              http: { request: { method: a.method }, response: { status_code: a.status } },
              url: { path: a.path },
              'event.duration': a.ms * 1e6,
              attempt: a.attempt,
              problem: a.problem,
            },
            'kafka connect request',
          ),
      });
    }
    return this.client_;
  }

  /** The NAME arguments of a command with `strict = false` (variadic). */
  protected async names(): Promise<string[]> {
    const { argv } = await this.parse(this.ctor as never);
    return (argv as unknown[]).map(String);
  }

  /** Progress as listr2 on a terminal, plain lines otherwise, nothing with --json. */
  protected progressOptions(): { tty: boolean; print: (line: string) => void; masker: Masker } {
    return {
      tty: Boolean(process.stdout.isTTY) && !this.jsonEnabled(),
      print: (line) => this.out(line),
      masker: this.masker,
    };
  }

  /** Renders the templates picked by NAME (all when none); values from SHOPDATA_* and the layered config. */
  protected renderTemplates(names: string[]): RenderedConnector[] {
    const flags = this.flags as Record<string, unknown>;
    const templates = loadTemplates(String(flags.templates ?? DEFAULT_TEMPLATE_DIR));
    const vars = deriveVariables(this.settings(), process.env);
    const picked = selectTemplates(templates, names, vars);
    const rendered = picked.map((t) => renderTemplate(t, vars));
    // Values behind local ${file:…} references are secrets too (the worker may share this machine).
    for (const rc of rendered) for (const s of localFileSecrets(rc.config)) this.masker.add(s);
    return rendered;
  }

  /**
   * For an Iceberg sink connector, its lake tables in the REST catalog: inspected, and with
   * `create` made when missing (dry run: reported only). Undefined for other connectors.
   */
  protected async lakeTables(
    rc: RenderedConnector,
    opts: { create: boolean; dryRun: boolean },
  ): Promise<LakeTableReport[] | undefined> {
    if (rc.connectorClass !== ICEBERG_SINK_CLASS) return undefined;
    const tables = sinkTables(rc);
    const flags = this.flags as Record<string, unknown>;
    const rendered = rc.config['iceberg.catalog.uri'];
    const uri =
      (flags['iceberg-catalog-uri'] as string | undefined) ||
      (rendered && !isProviderReference(rendered) ? rendered : undefined);
    if (!uri) {
      throw new ConfigError(
        `Connector ${rc.name}: no Iceberg REST catalog URI to create its lake tables with.`,
        {
          hint: 'Set SHOPDATA_ICEBERG_CATALOG_URI (or --iceberg-catalog-uri) to the catalog as this machine reaches it.',
        },
      );
    }
    const token = process.env.SHOPDATA_ICEBERG_CATALOG_TOKEN;
    this.masker.add(token);
    const warehouse = rc.config['iceberg.catalog.warehouse'];
    const catalog = new RestCatalogClient({
      uri,
      ...(warehouse ? { warehouse } : {}),
      ...(token ? { token } : {}),
    });
    return provisionLakeTables(catalog, rc.name, tables, opts);
  }

  /**
   * An Iceberg sink among the connectors must not be fed by schemaless Debezium connectors (rendered
   * now or live on the worker): checked before anything changes.
   */
  protected async checkSinkSources(rendered: RenderedConnector[]): Promise<void> {
    if (!rendered.some((rc) => rc.connectorClass === ICEBERG_SINK_CLASS)) return;
    const all = await this.client().listExpanded();
    const live = Object.fromEntries(Object.entries(all).map(([name, c]) => [name, c.info?.config]));
    assertSinkSources(rendered, live);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    const e: ShopdataError = toShopdataError(err);
    const m = this.masker;
    e.message = m.text(e.message);
    if (e.hint) (e as { hint: string | undefined }).hint = m.text(e.hint);
    if (e.details) (e as { details: Record<string, unknown> | undefined }).details = m.deep(e.details);
    // The cause is logged at debug level for unexpected errors: mask it too.
    for (let c: unknown = e.cause, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
      // A DOMException (a fetch timeout) has a read-only message: shadow it on the instance.
      const cause = c;
      for (const key of ['message', 'stack'] as const) {
        const text = cause[key];
        if (typeof text === 'string')
          Object.defineProperty(cause, key, { value: m.text(text), configurable: true, writable: true });
      }
    }
    if (e.stack) e.stack = m.text(e.stack);
    return super.catch(e);
  }
}
