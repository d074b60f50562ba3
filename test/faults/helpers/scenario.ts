import { createServer } from 'node:net';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { ensureTopics } from '../../../scripts/kafka-admin';
import { allTopics, Topics, topicsFor } from '../../../src/kafka/topics';
import { registerFleet, startApp } from '../../helpers/app';
import { pollUntil } from '../../helpers/poll';
import { buildWorkload, Workload, WorkloadOptions } from './workload';

/** Partitions per topic in the fault tests: enough for two instances to split, few enough to start fast. */
export const FAULT_PARTITIONS = 3;

export interface Scenario {
  environment: Record<string, string>;
  topics: Topics;
  workload: Workload;
  database: Pool;
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Topics, a registered fleet (through the API, in this process, which is then closed) and the workload.
 * Ingestion is left to the separate app processes the test starts, stops and kills.
 */
export async function prepareScenario(
  environment: Record<string, string>,
  label: string,
  options: Omit<WorkloadOptions, 'partitions'>,
): Promise<Scenario> {
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  await ensureTopics(environment.KAFKA_BROKERS.split(','), allTopics(topics), FAULT_PARTITIONS);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `SITE-${run}`;
  const otherSite = `SITE-O-${run}`;
  const deviceIds = [`DEV-A-${run}`, `DEV-B-${run}`, `DEV-C-${run}`];
  const registrar = await startApp({ ...environment, FW_PROCESS_ROLE: 'api' });
  try {
    const fleet = await registerFleet(registrar, `${label}-${run}`, [
      { siteId: site, devices: deviceIds, dataSources: [] },
      { siteId: otherSite, devices: [], dataSources: [] },
    ]);
    const workload = buildWorkload(
      { site, otherSite, devices: fleet.devices },
      { ...options, partitions: FAULT_PARTITIONS },
    );
    // A pool, not one connection: the PostgreSQL fault test restarts the server under it.
    const database = new Pool({ connectionString: environment.DATABASE_URL, max: 2 });
    database.on('error', () => undefined);
    return { environment, topics, workload, database };
  } finally {
    await registrar.close();
  }
}

export interface GroupMember {
  memberId: string;
  /** `fieldwatch-ingest-<pid>` (src/ingestion/ingestion.consumer.ts): which app process the member is. */
  clientId: string;
  /** topic → partitions assigned to this member. */
  assignment: Record<string, number[]>;
}

/** The consumer group as the group coordinator sees it: state and each member's partitions. */
export async function describeGroup(
  brokers: string,
  groupId: string,
): Promise<{ state: string; members: GroupMember[] }> {
  const admin = new Kafka({
    clientId: 'fieldwatch-fault-group',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const {
      groups: [group],
    } = await admin.describeGroups([groupId]);
    return {
      state: group.state,
      members: group.members.map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        assignment:
          member.memberAssignment.length > 0
            ? (AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment ?? {})
            : {},
      })),
    };
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the group is Stable with exactly the given app processes as members, each with partitions. */
export async function waitForMembers(
  brokers: string,
  groupId: string,
  pids: Array<number | undefined>,
): Promise<GroupMember[]> {
  const wanted = pids.map((pid) => `fieldwatch-ingest-${pid}`).sort();
  const group = await pollUntil(
    () => describeGroup(brokers, groupId),
    (g) =>
      g.state === 'Stable' &&
      JSON.stringify(g.members.map((m) => m.clientId).sort()) === JSON.stringify(wanted) &&
      g.members.every((m) => Object.values(m.assignment).some((partitions) => partitions.length > 0)),
    {
      timeoutMs: 180_000,
      intervalMs: 500,
      what: `group ${groupId} to be Stable with members ${wanted.join(', ')}`,
    },
  );
  return group.members;
}
