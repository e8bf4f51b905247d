/**
 * The Docker example, checked against the code it runs (no Docker engine here): compose.yaml
 * parses, describes three agents built from the repository's Dockerfile, every agent command is
 * accepted by the CLI's own flag parser, every --join names a service on the bind port, the
 * Dockerfile's entry point is the CLI the build produces, and .dockerignore keeps host builds out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseAgentArgs } from '../../../packages/agent/src/agent-args.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

interface Service {
  build?: { context: string; dockerfile: string };
  image: string;
  command: string[];
  ports?: string[];
  depends_on?: string[];
}

describe('examples/docker', () => {
  const compose = parse(readFileSync(`${here}compose.yaml`, 'utf8')) as { services: Record<string, Service> };
  const services = compose.services;

  it('compose.yaml: three agents of the image built from the repository Dockerfile', () => {
    expect(Object.keys(services).sort()).toEqual(['gv1', 'gv2', 'gv3']);
    const built = Object.values(services).filter((s) => s.build !== undefined);
    expect(built).toHaveLength(1);
    const { context, dockerfile } = built[0]!.build!;
    expect(existsSync(new URL(`${context}/${dockerfile}`, `file://${here}`))).toBe(true);
    for (const s of Object.values(services)) expect(s.image).toBe(built[0]!.image);
    expect(services.gv1!.ports).toEqual(['127.0.0.1:8080:8080']);
  });

  it('every command is a valid agent invocation; every --join is a service on the bind port', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.command[0], name).toBe('agent');
      const settings = parseAgentArgs(s.command.slice(1));
      expect(settings, name).toBeDefined();
      expect(settings!.name).toBe(name);
      const port = settings!.bind.split(':').pop();
      for (const seed of settings!.seeds) {
        const [host, seedPort] = seed.split(':');
        expect(Object.keys(services), `${name} joins ${seed}`).toContain(host);
        expect(seedPort).toBe(port);
        expect(s.depends_on).toContain(host);
      }
    }
    expect(parseAgentArgs(services.gv1!.command.slice(1))!.http).toBe('0.0.0.0:8080');
  });

  it('the Dockerfile runs the CLI the install builds; host builds stay out of the context', () => {
    const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toMatch(/pnpm@10 install --frozen-lockfile/);
    const entry = /^ENTRYPOINT \["node", "\/app\/([^"]+)"\]$/m.exec(dockerfile);
    expect(entry).not.toBeNull();
    expect(existsSync(`${root}${entry![1]}`)).toBe(true); // built by tsc -b, as in the image
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(parseAgentArgs(cmd.slice(1))).toBeDefined();
    const ignore = readFileSync(`${root}.dockerignore`, 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '**/dist']));
  });
});
