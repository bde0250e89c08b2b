import { describe, expect, it } from 'vitest';
import { mkdtempSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineSplitter, parseReplayLine } from '../../../src/lib/stream/file-runner.js';
import {
  FileDeadLetterSink,
  redactInsertError,
  scrubPayload,
  scrubText,
} from '../../../src/lib/stream/dlq.js';

const HASH = '$2b$10$' + 'N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'.slice(0, 53);

describe('replay lines: length cap and nesting (issue 18 §2, §4)', () => {
  it('splits lines across chunks, keeps UTF-8 characters whole, and drops a line past the cap', () => {
    const s = new LineSplitter(10);
    const text = Buffer.from('ab\nüü\n0123456789X\nlast', 'utf8');
    const out = [];
    // feed byte by byte: every multi-byte character is split across two chunks
    for (let i = 0; i < text.length; i++) out.push(...s.push(text.subarray(i, i + 1)));
    const last = s.end();
    expect(out.map((l) => [l.n, l.text, l.tooLong])).toEqual([
      [1, 'ab', false],
      [2, 'üü', false],
      [3, '', true],
    ]);
    expect(last).toEqual({ n: 4, text: 'last', tooLong: false });
    expect(s.end()).toBeUndefined();
  });

  it('assembles a line of many chunks whole, and drops one past the cap without keeping it', () => {
    const s = new LineSplitter(40 << 20);
    const chunk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 32; i++) expect([...s.push(chunk)]).toEqual([]);
    const [line] = [...s.push(Buffer.from('\n'))];
    expect(line!.text.length).toBe(32 << 20);
    for (let i = 0; i < 48; i++) expect([...s.push(chunk)]).toEqual([]);
    expect([...s.push(Buffer.from('\n{}\n'))].map((l) => [l.n, l.tooLong, l.text])).toEqual([
      [2, true, ''],
      [3, false, '{}'],
    ]);
  });

  it('rejects a line nesting 100 000 arrays, with a reason and without touching it recursively', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const line of [
      `{"topic":"shop.public.users","key":null,"value":{"after":{"city":${deep}}}}`,
      `{"topic":"shop.public.users","key":null,"value":null,"headers":{"h":${deep}}}`,
    ]) {
      const r = parseReplayLine(line, 3);
      expect('reject' in r && [r.reject.reason, r.reject.error]).toEqual([
        'nested-too-deep',
        'Line 3 nests arrays or objects deeper than 64 levels; no Debezium event does.',
      ]);
    }
  });

  it('says where a line is not JSON without quoting it', () => {
    const r = parseReplayLine('{"topic":"t","value":{"email":"secret.person@example.com"', 9);
    expect('reject' in r && r.reject.reason).toBe('malformed-json');
    expect('reject' in r && r.reject.error).not.toMatch(/secret/);
  });
});

describe('dead letters never carry password_hash (issue 18 §5)', () => {
  const event = {
    before: null,
    after: { user_id: 3, password_hash: HASH, failed_logins: 'x' },
    source: { ts_ms: 1 },
    op: 'u',
  };

  it('removes it from parsed values, JSON text, JSON inside strings and text that is not JSON', () => {
    expect(JSON.stringify(scrubPayload(event))).not.toContain(HASH);
    expect(scrubPayload(event)).toEqual({ ...event, after: { user_id: 3, failed_logins: 'x' } });
    const text = scrubPayload(JSON.stringify(event)) as string;
    expect(text).not.toContain(HASH);
    expect(JSON.parse(text)).toEqual({ ...event, after: { user_id: 3, failed_logins: 'x' } });
    const mongo = scrubPayload({ after: JSON.stringify(event.after) }) as { after: string };
    expect(JSON.parse(mongo.after)).toEqual({ user_id: 3, failed_logins: 'x' });
    const broken = JSON.stringify(event).slice(0, -5);
    expect(scrubPayload(broken)).not.toContain(HASH);
    expect(scrubPayload(Buffer.from(broken))).toContain('"password_hash":"[removed]"');
    expect(scrubText(`{\\"password_hash\\":\\"${HASH}\\"}`)).toBe('{\\"password_hash\\":\\"[removed]\\"}');
    expect(scrubText(`hash=${HASH} end`)).toBe('hash=[removed] end');
  });

  it('writes FILE.rejects.jsonl with mode 0600 and without the hash, tightening an existing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-rejects-'));
    const path = join(dir, 'r.rejects.jsonl');
    writeFileSync(path, 'old\n', { mode: 0o644 });
    const sink = new FileDeadLetterSink(path);
    await sink.send([
      {
        message: {
          topic: 'shop.public.auth_credentials',
          partition: 0,
          offset: '4',
          key: null,
          value: event,
          line: 5,
        },
        reason: 'type-mismatch',
        error: 'auth_credentials.failed_logins: expected a 32-bit integer, got a string.',
      },
      {
        message: {
          topic: '',
          partition: 0,
          offset: '5',
          key: null,
          value: JSON.stringify(event).slice(3),
          line: 6,
        },
        reason: 'malformed-json',
        error: 'Line 6 is not valid JSON.',
      },
    ]);
    await sink.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(HASH);
    expect(text.trim().split('\n')).toHaveLength(2);
  });

  it('takes the row data out of ClickHouse insert errors', () => {
    const msg =
      'Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected , before: "secret.person@example.com"}\\n: (at row 1)\n, e.what() = DB::Exception';
    expect(redactInsertError(msg)).toBe(
      'Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected , before: [data removed]: (at row 1)\n, e.what() = DB::Exception',
    );
    const modern =
      "Code: 117. DB::Exception: Cannot parse input: expected '\"' before: 'x}': (at row 1)\nRow 1:\nColumn 0, name: email, type: String, parsed text: \"secret.person@example.com\"\n";
    expect(redactInsertError(modern)).not.toMatch(/secret/);
  });
});
