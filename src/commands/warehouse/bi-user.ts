import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/cli/base-command.js';
import { renderBiUser, type BiUser } from '../../lib/warehouse/bi-user.js';
import { databasesFor, dbSuffixFlag } from '../../lib/warehouse/migrations/flags.js';

export default class WarehouseBiUser extends BaseCommand<typeof WarehouseBiUser> {
  static override summary = 'Print the configuration of the read-only BI user, with a generated password.';
  static override description = `Renders templates/clickhouse/: --format xml is a users.d file for ClickHouse 18.16 (put it into the server's users.d/), --format sql a script for ClickHouse >= 24.3 (run it as an admin). The configuration holds only the SHA-256 of the password. The password is SHOPDATA_BI_PASSWORD (at least 16 characters) or, when unset, generated and printed once on stderr (in --json: generatedPassword). Nothing is changed on any server.

What the BI user can read: on >= 24.3 the mart views only (they run with their creator's rights); on 18.16 mart and the vault tables behind its views (18.16 views run with the reader's rights; see docs/SECURITY.md). It cannot change settings such as max_execution_time or max_memory_usage, and may log in only from --allow-from.`;
  static override examples = [
    '<%= config.bin %> warehouse bi-user --format xml --allow-from 10.1.2.0/24 > /etc/clickhouse-server/users.d/shopdata-bi.xml',
    'SHOPDATA_BI_PASSWORD="$(cat bi.pw)" <%= config.bin %> warehouse bi-user --format sql --allow-from 10.1.2.7 | clickhouse-client --multiquery',
  ];
  static override flags = {
    format: Flags.option({
      options: ['xml', 'sql'] as const,
      description: 'xml: users.d file for ClickHouse < 20.4 (18.16); sql: script for ClickHouse >= 24.3.',
      default: 'sql',
    })(),
    user: Flags.string({ description: 'Name of the BI user.', default: 'shopdata_bi' }),
    'allow-from': Flags.string({
      description: 'IP address or CIDR network the BI user may log in from (repeatable).',
      multiple: true,
      env: 'SHOPDATA_BI_ALLOW_FROM',
      default: ['127.0.0.1', '::1'],
    }),
    ...dbSuffixFlag,
  };

  public async run(): Promise<BiUser> {
    const f = this.flags;
    const password = process.env.SHOPDATA_BI_PASSWORD;
    const r = renderBiUser({
      format: f.format,
      user: f.user,
      allowFrom: f['allow-from'].flatMap((a) => a.split(',')).filter((a) => a.trim() !== ''),
      dbs: databasesFor(f['db-suffix']),
      password: password === '' ? undefined : password,
    });
    if (!this.jsonEnabled()) {
      process.stdout.write(r.config);
      if (r.generatedPassword)
        process.stderr.write(
          `Generated password for ${r.user} (shown once; store it with the BI tool): ${r.generatedPassword}\n`,
        );
    }
    return r;
  }
}
