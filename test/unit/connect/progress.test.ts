import { describe, expect, it } from 'vitest';
import { Masker, MASK } from '../../../src/lib/connect/mask.js';
import { runGroups } from '../../../src/lib/connect/progress.js';

describe('runGroups without a terminal', () => {
  it('prints one plain line per step, keeps going after a failed group, and masks secrets', async () => {
    const lines: string[] = [];
    const masker = new Masker(['s3cret-value']);
    const outcomes = await runGroups(
      [
        {
          title: 'a',
          steps: [
            { title: 'validate', run: async () => 'valid' },
            {
              title: 'apply',
              run: async () => {
                throw new Error('refused: password=s3cret-value');
              },
            },
            { title: 'never', run: async () => 'not reached' },
          ],
        },
        {
          title: 'b',
          steps: [{ title: 'apply', run: async (note) => (note('waiting for s3cret-value'), 'created') }],
        },
      ],
      { tty: false, print: (l) => lines.push(l), masker },
    );
    expect(lines).toEqual([
      'a: validate: valid',
      'a: apply: FAILED',
      `b: waiting for ${MASK}`,
      'b: apply: created',
    ]);
    expect(outcomes[0]!.error!.message).toBe(`refused: password=${MASK}`);
    expect(outcomes[1]!.error).toBeUndefined();
  });
});
