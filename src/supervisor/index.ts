export { supervisor, Supervisor, type SupervisorRequest, type ChildInfo, type SupervisorEvent, type SupervisorOptions } from './supervisor.js';
export { RestartIntensity } from './restart-intensity.js';
export {
  validateSpec, validateChild, validateStrategy, validateIntensity, validatePeriod, validateRestart, validateShutdown, validateChildType,
  type SupervisorSpec, type ChildSpec, type Strategy, type RestartType, type Shutdown, type ChildType,
} from './spec.js';
