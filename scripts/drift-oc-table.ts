/**
 * Operating characteristics of drift monitoring (issue 4 "Done when"): the fleet simulator run through a no-drift
 * control and four drift scenarios over many seeds, evaluated with the default drift configuration's monitors and
 * budget through the drift service's own functions (src/drift-scenarios/scenario-evaluation.ts). Prints a Markdown
 * table: false alarms of the control against the budget (and which monitors they were), and per scenario the detection
 * rate and the delay from onset to the first alert on a target segment, in days and in labelled vessels of that
 * segment; the last column is the CT-FFR location CUSUM's own detection (its first alert on a target segment), whether
 * or not another monitor alerted first.
 *
 *   npm run drift:oc -- [--control-seeds N] [--scenario-seeds N]      (defaults 8 and 4)
 */
import { parseArgs } from 'node:util';
import {
  SCENARIOS,
  SCENARIO_NAMES,
  simulateScenario,
  type ScenarioName,
} from '../src/drift-scenarios/scenario-data';
import {
  BATCH_MONITORS,
  detectionOf,
  EVALUATION,
  evaluateScenario,
} from '../src/drift-scenarios/scenario-evaluation';

const { values } = parseArgs({
  options: { 'control-seeds': { type: 'string' }, 'scenario-seeds': { type: 'string' } },
});
const controlSeeds = Number(values['control-seeds'] ?? 8);
const scenarioSeeds = Number(values['scenario-seeds'] ?? 4);
const ONSET_DAY = 42;
const LOCATION_CHART = 'output.ctFfrLocationCusum';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs: number[]): string => (xs.length ? `${Math.min(...xs)}–${Math.max(...xs)}` : '–');

const lines: string[] = [];
let batchAlarms = 0;
let chartAlarms = 0;
let batchBudget = 0;
let chartBudget = 0;
const controlAlarms: string[] = [];
for (let i = 1; i <= controlSeeds; i++) {
  const data = simulateScenario(SCENARIOS.control, { seed: `oc-control-${i}`, onsetDay: ONSET_DAY });
  const evaluation = evaluateScenario(data);
  batchBudget += EVALUATION.configuration.batch.familyAlpha * evaluation.runs;
  chartBudget += evaluation.labelledInMonitoring / EVALUATION.configuration.sequential.familyArl0;
  for (const a of evaluation.alerts) {
    if (BATCH_MONITORS.includes(a.monitor)) batchAlarms++;
    else chartAlarms++;
    controlAlarms.push(`${a.monitor} @ ${a.segment}`);
  }
  process.stderr.write(`control seed ${i}: ${evaluation.alerts.length} alerts\n`);
}
lines.push(
  `No-drift control, ${controlSeeds} seeds × 26 weekly runs (182 days): batch monitors ${batchAlarms} false alarms ` +
    `(budget ${batchBudget.toFixed(2)}); sequential charts (accuracy and CT-FFR location) ${chartAlarms} ` +
    `(budget ${chartBudget.toFixed(2)})` +
    (controlAlarms.length ? ` — ${controlAlarms.join('; ')}.` : '.'),
  '',
  '| scenario | detected | first detecting monitor (most frequent) | delay, days: median (range) | delay, labelled vessels: median (range) | false alarms before onset | CT-FFR location CUSUM alone: detected, delay days median (range) |',
  '|---|---|---|---|---|---|---|',
);
for (const name of SCENARIO_NAMES.filter((n): n is Exclude<ScenarioName, 'control'> => n !== 'control')) {
  const days: number[] = [];
  const vessels: number[] = [];
  const monitors = new Map<string, number>();
  let detected = 0;
  let before = 0;
  const chartDays: number[] = [];
  for (let i = 1; i <= scenarioSeeds; i++) {
    const data = simulateScenario(SCENARIOS[name], { seed: `oc-${name}-${i}`, onsetDay: ONSET_DAY });
    const evaluation = evaluateScenario(data);
    const d = detectionOf(data, evaluation, SCENARIOS[name].targets, data.referenceDays + ONSET_DAY);
    before += d.falseAlarmsBeforeOnset;
    const onset = data.referenceDays + ONSET_DAY;
    const own = evaluation.alerts
      .filter(
        (a) => a.monitor === LOCATION_CHART && a.day >= onset && SCENARIOS[name].targets.includes(a.segment),
      )
      .sort((a, b) => a.day - b.day)[0];
    if (own) chartDays.push(own.day - onset);
    if (d.detected) {
      detected++;
      days.push(d.delayDays!);
      vessels.push(d.delayLabelledVessels!);
      const key = `${d.monitor} @ ${d.segment}`;
      monitors.set(key, (monitors.get(key) ?? 0) + 1);
    }
    process.stderr.write(`${name} seed ${i}: ${JSON.stringify(d)}\n`);
  }
  const top = [...monitors.entries()].sort((a, b) => b[1] - a[1])[0];
  lines.push(
    `| ${SCENARIOS[name].description} | ${detected}/${scenarioSeeds} | ${top ? `${top[0]} (${top[1]})` : '–'} | ` +
      `${median(days)} (${range(days)}) | ${median(vessels)} (${range(vessels)}) | ${before} | ` +
      `${chartDays.length}/${scenarioSeeds}, ${chartDays.length ? `${median(chartDays)} (${range(chartDays)})` : '–'} |`,
  );
}
console.log(lines.join('\n'));
