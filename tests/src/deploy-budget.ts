/**
 * How long a node of the deployment files may need to stop: evacuating the session count
 * docs/deployment.md says the files are sized for, at the `node.evacuation` settings the
 * files give the node, plus its own stop. Kubernetes' `terminationGracePeriodSeconds` and
 * compose's `stop_grace_period` must cover it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { VireoConfig } from '@vireo/server';
import { repoFile } from './k8s-render.js';

/** Time for the node's own stop after evacuating: leaving the cluster, closing the store. */
export const STOP_MARGIN_S = 15;

/** The per-node session count docs/deployment.md says the files are sized for. */
export function documentedSessionsPerNode(): number {
  const m = /sized for \*\*([\d  ,]+) persistent sessions per node\*\*/.exec(readFileSync(repoFile('docs/deployment.md'), 'utf8'));
  assert.ok(m, 'docs/deployment.md states the session count per node the files are sized for');
  return Number(m[1].replace(/[  ,]/g, ''));
}

/** Seconds to evacuate `sessions`, all connected (the worst case), at the node's evacuation settings, and stop. */
export function evacuationBudget(cfg: VireoConfig, sessions: number): number {
  const e = cfg.node.evacuation;
  return e.wait_health_check / 1000 + Math.ceil(sessions / e.conn_evict_rate) + e.wait_takeover / 1000 + Math.ceil(sessions / e.sess_evict_rate) + STOP_MARGIN_S;
}
