export { ThreadTransport, type ThreadTransportOptions } from './thread-link.js';
export { encodeBatch, decodeBatch, REF_EXT_TYPE } from './codec.js';
export { validateLinkFaults, seededRandom, type LinkFaultConfig, type LinkFaultCounts } from './link-faults.js';
