import { LabelFreeReport, LabelFreeRequest, labelFreeAccuracyReport } from './label-free-accuracy';

/**
 * Worker-thread entry of the label-free accuracy pool (label-free-accuracy.service.ts): pure computation, no database —
 * the rows arrive with the task, so the thread that serves requests and ingests events never runs the bootstrap.
 */
export default function labelFreeAccuracyTask(request: LabelFreeRequest): LabelFreeReport {
  return labelFreeAccuracyReport(request);
}
