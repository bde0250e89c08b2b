import type { Hook } from '@oclif/core';

/** Unknown commands are usage errors: exit 2 with the closest matches (docs/CONTRACT.md §3). */
const hook: Hook<'command_not_found'> = async function (opts) {
  const ids = opts.config.commandIDs.map((id) => id.replaceAll(':', ' '));
  const wanted = opts.id.replaceAll(':', ' ');
  const near = ids
    .filter((id) => id.startsWith(wanted.split(' ')[0] ?? '') || wanted.startsWith(id.split(' ')[0] ?? ''))
    .slice(0, 5);
  const suggestion = near.length ? ` Did you mean: ${near.join(', ')}?` : '';
  process.stderr.write(
    `Error: "${wanted}" is not a shopdata command.${suggestion}\nHint: run \`shopdata --help\` to list the commands.\n`,
  );
  this.exit(2);
};
export default hook;
