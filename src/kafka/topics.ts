/**
 * Kafka topics of the event contracts (DESIGN.md §4). A schema change gets a new topic suffix, so
 * each entry names exactly one contract version; consumers keep reading an old topic until retired.
 *
 * `KAFKA_TOPIC_PREFIX` (default empty) lets several environments — or parallel test runs — share one
 * cluster without reading each other's events; production leaves it empty.
 */
export const TOPIC_BASE_NAMES = {
  analyses: 'fieldwatch.analyses.v1',
  outcomes: 'fieldwatch.outcomes.v1',
  deviceEvents: 'fieldwatch.device-events.v1',
  deadLetter: 'fieldwatch.dlq.v1',
} as const;

export type TopicRole = keyof typeof TOPIC_BASE_NAMES;
export type Topics = Record<TopicRole, string>;

export function topicsFor(prefix = ''): Topics {
  return {
    analyses: prefix + TOPIC_BASE_NAMES.analyses,
    outcomes: prefix + TOPIC_BASE_NAMES.outcomes,
    deviceEvents: prefix + TOPIC_BASE_NAMES.deviceEvents,
    deadLetter: prefix + TOPIC_BASE_NAMES.deadLetter,
  };
}

/** Topics the ingestion consumers read (the DLQ is written, never consumed by the platform). */
export function ingestTopics(topics: Topics): string[] {
  return [topics.analyses, topics.outcomes, topics.deviceEvents];
}

/** All topics the platform needs: created by `npm run kafka:start`, the tests and docker/compose.yml. */
export function allTopics(topics: Topics): string[] {
  return [...ingestTopics(topics), topics.deadLetter];
}
