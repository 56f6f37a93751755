import fs from 'node:fs';
import path from 'node:path';
import { describeError, StoreError } from './errors.js';

/** The file in the data dir that says which node it belongs to. */
export const NODE_FILE = 'node.json';

export interface IdentityResult {
  /** The node name found in the data dir when it differed and `force` adopted it. */
  adoptedFrom?: string;
  /** True when the data dir was new. */
  created: boolean;
}

/**
 * A data dir belongs to one node name: starting another node on it (say, a container restarted
 * with a new hostname and so a new default name) must not silently serve, or overwrite, another
 * node's sessions. `force` adopts the data dir under the new name.
 */
export function claimDataDir(dataDir: string, nodeName: string, force: boolean): IdentityResult {
  try {
    fs.mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    throw new StoreError(`node.data_dir: cannot create ${dataDir}: ${describeError(err)}`);
  }
  const file = path.join(dataDir, NODE_FILE);
  let text: string | undefined;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw new StoreError(`cannot read ${file}: ${describeError(err)}`);
  }
  let owner: string | undefined;
  if (text !== undefined) {
    try {
      const v = JSON.parse(text) as { node?: unknown };
      if (typeof v.node === 'string') owner = v.node;
    } catch {
      // handled below: a node file without a name is as bad as an unreadable one
    }
    if (owner === undefined) throw new StoreError(`${file} is corrupt (expected {"node": "<node name>"}); fix or remove it`);
    if (owner === nodeName) return { created: false };
    if (!force) {
      throw new StoreError(
        `${dataDir} belongs to node ${owner}, not ${nodeName}: start with node.name=${owner} (VIREO_NODE__NAME), ` +
          `use another node.data_dir, or start with --force to adopt this data as ${nodeName}`,
      );
    }
  }
  write(file, nodeName);
  return owner === undefined ? { created: true } : { created: false, adoptedFrom: owner };
}

function write(file: string, nodeName: string): void {
  const tmp = `${file}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify({ node: nodeName }, null, 2)}\n`);
    fs.renameSync(tmp, file);
  } catch (err) {
    throw new StoreError(`cannot write ${file}: ${describeError(err)}`);
  }
}
