import type { GatewayServer, PodStats } from '../types';

/**
 * Cluster-wide stats through the adapter's server-side requests: every other pod answers with its
 * own PodStats. Without Redis there is one pod and no request. A pod that does not answer within
 * the timeout makes the answer partial (this pod's figures only), never an error. The wait is the adapter's `requestsTimeout`.
 */
export class ClusterStats {
  constructor(
    private readonly io: GatewayServer,
    private readonly clustered: boolean,
    private readonly local: () => PodStats,
  ) {
    if (clustered) io.on('gateway:stats', (reply) => reply(this.local()));
  }

  async collect(): Promise<{ pods: PodStats[]; partial: boolean }> {
    const mine = this.local();
    if (!this.clustered) return { pods: [mine], partial: false };
    try {
      const others = await this.io.serverSideEmitWithAck('gateway:stats');
      return { pods: [mine, ...others], partial: false };
    } catch (err) {
      // The adapter's request timeout (STATS_TIMEOUT_MS) passed: use the answers that did arrive.
      const arrived = (err as { responses?: PodStats[] }).responses ?? [];
      return { pods: [mine, ...arrived], partial: true };
    }
  }
}
