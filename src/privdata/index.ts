/** Fabric's gossip/privdata. For now only its metrics: the seam the private data work builds on. */
export { createPrivdataMetrics, type PrivdataMetrics } from "./metrics.js";
