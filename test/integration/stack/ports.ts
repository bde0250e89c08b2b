import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Ports of the local stack from scripts/stack/ports.env (names may contain digits, e.g. S3_PORT). */
const portsFile = fileURLToPath(new URL('../../../scripts/stack/ports.env', import.meta.url));
export const stackPorts: Readonly<Record<string, number>> = Object.fromEntries(
  readFileSync(portsFile, 'utf8')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=(\d+)\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, Number(m[2])]),
);

export function stackPort(name: string): number {
  const port = stackPorts[name];
  if (port === undefined) throw new Error(`${name} is not in scripts/stack/ports.env`);
  return port;
}

export const s3Endpoint = `http://127.0.0.1:${stackPort('S3_PORT')}`;
