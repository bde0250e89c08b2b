import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { s3Env, stack, uniqueName } from '../../helpers/stack.js';
import { s3Endpoint } from './ports.js';

// Needs scripts/stack/up s3 (moto server, in memory).
describe('stack: s3', () => {
  const s3 = new S3Client({
    endpoint: s3Endpoint,
    region: s3Env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: s3Env.AWS_ACCESS_KEY_ID, secretAccessKey: s3Env.AWS_SECRET_ACCESS_KEY },
  });
  const prefix = `${uniqueName('stack-s3')}/`;
  const keys = [`${prefix}a.json`, `${prefix}dt=2026-11-25/b.json`];

  afterAll(async () => {
    await s3.send(
      new DeleteObjectsCommand({ Bucket: stack.s3Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    );
    s3.destroy();
  });

  it('has the lake bucket', async () => {
    const res = await s3.send(new HeadBucketCommand({ Bucket: stack.s3Bucket }));
    expect(res.$metadata.httpStatusCode).toBe(200);
  });

  it('puts, lists and gets objects under a prefix', async () => {
    for (const [i, Key] of keys.entries()) {
      await s3.send(
        new PutObjectCommand({
          Bucket: stack.s3Bucket,
          Key,
          Body: JSON.stringify({ i }),
          ContentType: 'application/json',
        }),
      );
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: stack.s3Bucket, Prefix: prefix }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([...keys].sort());

    const got = await s3.send(new GetObjectCommand({ Bucket: stack.s3Bucket, Key: keys[1] }));
    expect(JSON.parse(await got.Body!.transformToString())).toEqual({ i: 1 });
  });
});
