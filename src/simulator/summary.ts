/**
 * Counts of what a run published, and what the platform should therefore report (stored / duplicates /
 * dead-lettered), for the final summary JSON and for acceptance checks that compare the two.
 */
import type { ClinicalEventType, DeviceEventKind } from './contracts';
import { INJECTED_KINDS, type InjectedKind, type OutboundMessage } from './messages';

type TopicRoleName = OutboundMessage['topic'];

export interface TopicCounts {
  messages: number;
  genuine: number;
  duplicates: number;
  deadLetterExpected: number;
}

export interface SimulationCounts {
  analyses: number;
  completed: number;
  rejected: number;
  failed: number;
  vessels: number;
  invasiveFfr: number;
  clinicalEvents: number;
  clinicalEventsByType: Partial<Record<ClinicalEventType, number>>;
  deviceEvents: number;
  deviceEventsByKind: Partial<Record<DeviceEventKind, number>>;
  injected: Record<InjectedKind, number>;
  /** Registry updates the run made (model/software upgrades, scanner changes). */
  deviceUpdates: number;
}

export class SummaryCounter {
  readonly counts: SimulationCounts = {
    analyses: 0,
    completed: 0,
    rejected: 0,
    failed: 0,
    vessels: 0,
    invasiveFfr: 0,
    clinicalEvents: 0,
    clinicalEventsByType: {},
    deviceEvents: 0,
    deviceEventsByKind: {},
    injected: Object.fromEntries(INJECTED_KINDS.map((kind) => [kind, 0])) as Record<InjectedKind, number>,
    deviceUpdates: 0,
  };
  readonly topics: Record<TopicRoleName, TopicCounts> = {
    analyses: emptyTopic(),
    outcomes: emptyTopic(),
    deviceEvents: emptyTopic(),
  };

  record(message: OutboundMessage): void {
    const topic = this.topics[message.topic];
    topic.messages++;
    if (message.injected !== null) {
      this.counts.injected[message.injected]++;
      if (message.injected === 'duplicate') topic.duplicates++;
      else topic.deadLetterExpected++;
      return;
    }
    topic.genuine++;
    if (message.body.kind !== 'event') return;
    const event = message.body.event;
    if (event.schema === 'fieldwatch.analysis/1') {
      this.counts.analyses++;
      this.counts[event.status]++;
      this.counts.vessels += event.vessels.length;
    } else if (event.schema === 'fieldwatch.outcome/1') {
      if (event.type === 'invasive_ffr') {
        this.counts.invasiveFfr++;
      } else {
        this.counts.clinicalEvents++;
        this.counts.clinicalEventsByType[event.event] =
          (this.counts.clinicalEventsByType[event.event] ?? 0) + 1;
      }
    } else {
      this.counts.deviceEvents++;
      this.counts.deviceEventsByKind[event.kind] = (this.counts.deviceEventsByKind[event.kind] ?? 0) + 1;
    }
  }

  recordDeviceUpdate(): void {
    this.counts.deviceUpdates++;
  }

  get totalMessages(): number {
    return this.topics.analyses.messages + this.topics.outcomes.messages + this.topics.deviceEvents.messages;
  }

  /** The summary block: counts per topic (by real topic name) and per kind, plus what the platform should see. */
  toJSON(topicNames: Record<TopicRoleName, string>): Record<string, unknown> {
    const perTopic = Object.fromEntries(
      (Object.keys(this.topics) as TopicRoleName[]).map((role) => [
        topicNames[role],
        { ...this.topics[role] },
      ]),
    );
    const totals = Object.values(this.topics).reduce(
      (sum, topic) => ({
        stored: sum.stored + topic.genuine,
        duplicates: sum.duplicates + topic.duplicates,
        deadLettered: sum.deadLettered + topic.deadLetterExpected,
      }),
      { stored: 0, duplicates: 0, deadLettered: 0 },
    );
    return {
      messages: this.totalMessages,
      topics: perTopic,
      counts: this.counts,
      // What the ingestion stats should converge to once the consumers have caught up (DESIGN.md §4).
      expectedAtPlatform: totals,
    };
  }
}

function emptyTopic(): TopicCounts {
  return { messages: 0, genuine: 0, duplicates: 0, deadLetterExpected: 0 };
}
