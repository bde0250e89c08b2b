import { SOURCE_TABLES, type SourceTable } from '../vault/types.js';
import { TABLE_SPECS, type SourceKind } from './source-schema.js';

/**
 * Topic names of docs/CONTRACT.md §4: `<topic.prefix>.<schema>.<table>` for the PostgreSQL connector
 * (`shop.public.users`) and `<topic.prefix>.<database>.<collection>` for MongoDB
 * (`shopev.shop_events.purchases`). The prefixes are configurable so tests and other deployments
 * can use their own topic namespaces.
 */
export interface TopicPrefixes {
  /** Everything before the table name, dot included: `shop.public.` */
  postgres: string;
  /** Everything before the collection name, dot included: `shopev.shop_events.` */
  mongo: string;
}

export const DEFAULT_TOPIC_PREFIXES: Readonly<TopicPrefixes> = {
  postgres: 'shop.public.',
  mongo: 'shopev.shop_events.',
};

export class TopicRouter {
  private readonly cache = new Map<string, SourceTable | null>();

  constructor(readonly prefixes: TopicPrefixes = DEFAULT_TOPIC_PREFIXES) {}

  /** The source table a topic carries, or null if the topic is not one of ours. */
  tableFor(topic: string): SourceTable | null {
    let t = this.cache.get(topic);
    if (t === undefined) {
      t = this.resolve(topic);
      this.cache.set(topic, t);
    }
    return t;
  }

  topicFor(table: SourceTable): string {
    return this.prefixFor(TABLE_SPECS[table].source) + table;
  }

  prefixFor(source: SourceKind): string {
    return source === 'postgres' ? this.prefixes.postgres : this.prefixes.mongo;
  }

  /** Every topic of the contract under these prefixes. */
  allTopics(): string[] {
    return SOURCE_TABLES.map((t) => this.topicFor(t));
  }

  private resolve(topic: string): SourceTable | null {
    for (const table of SOURCE_TABLES) {
      if (topic === this.topicFor(table)) return table;
    }
    return null;
  }
}
