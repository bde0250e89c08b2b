import { describe, expect, it } from 'vitest';
import { parseReplayLine } from '../../../src/lib/stream/file-runner.js';

describe('replay file lines', () => {
  it('reads {"topic","partition","offset","key","value"} with objects or JSON strings', () => {
    const a = parseReplayLine(
      '{"topic":"shop.public.users","partition":2,"offset":41,"key":{"id":1},"value":{"op":"c"}}',
      1,
    );
    expect(a).toEqual({
      message: {
        topic: 'shop.public.users',
        partition: 2,
        offset: '41',
        key: { id: 1 },
        value: { op: 'c' },
        headers: {},
        line: 1,
      },
    });
    const b = parseReplayLine(
      '{"topic":"t","partition":0,"offset":"7","key":"{\\"id\\":1}","value":null}',
      2,
    );
    expect(b).toEqual({
      message: { topic: 't', partition: 0, offset: '7', key: '{"id":1}', value: null, headers: {}, line: 2 },
    });
  });

  it('reads the envelope kcat -C -J prints (payload, flat header list)', () => {
    const line = JSON.stringify({
      topic: 't',
      partition: 1,
      offset: 9,
      tstype: 'create',
      ts: 1,
      broker: 1,
      headers: ['traceparent', '00-abc', 'x', 'y'],
      key: '{"id":3}',
      payload: '{"op":"d"}',
    });
    expect(parseReplayLine(line, 3)).toEqual({
      message: {
        topic: 't',
        partition: 1,
        offset: '9',
        key: '{"id":3}',
        value: '{"op":"d"}',
        headers: { traceparent: '00-abc', x: 'y' },
        line: 3,
      },
    });
  });

  it('numbers lines without offsets and rejects what is not a message', () => {
    expect(parseReplayLine('{"topic":"t","value":null}', 5)).toMatchObject({
      message: { partition: 0, offset: '4', key: null, value: null },
    });
    expect(parseReplayLine('nope', 6)).toMatchObject({
      reject: { reason: 'malformed-json', message: { line: 6, value: 'nope' } },
    });
    expect(parseReplayLine('[1]', 7)).toMatchObject({ reject: { reason: 'not-a-message' } });
    expect(parseReplayLine('{"value":1}', 8)).toMatchObject({ reject: { reason: 'not-a-message' } });
  });
});
