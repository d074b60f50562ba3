import { IngestionBackpressure } from './backpressure';

/** A promise with its resolve function exposed: the test decides when a "database write" ends. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('IngestionBackpressure', () => {
  const make = (overrides: Partial<ConstructorParameters<typeof IngestionBackpressure>[0]> = {}) => {
    const calls: string[] = [];
    const backpressure = new IngestionBackpressure({
      maxHeldMessages: 100,
      slowWriteMs: 20,
      heartbeatMs: 10_000,
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
      ...overrides,
    });
    return { backpressure, calls };
  };
  const keepAlive = () => Promise.resolve();

  it('admits batches while the held messages stay within the bound, and queues the next in arrival order', async () => {
    const { backpressure } = make();
    const first = deferred();
    const second = deferred();
    const entered: string[] = [];
    const a = backpressure.hold(60, keepAlive, async () => {
      entered.push('a');
      await first.promise;
    });
    const b = backpressure.hold(60, keepAlive, async () => {
      entered.push('b');
      await second.promise;
    });
    const c = backpressure.hold(30, keepAlive, () => {
      entered.push('c');
      return Promise.resolve();
    });
    await flush();
    // 60 + 60 > 100: b waits, and c (which would fit) does not overtake it.
    expect(entered).toEqual(['a']);
    expect(backpressure.status).toMatchObject({ heldMessages: 60, batchesWaited: 2 });
    first.resolve();
    await a;
    await flush();
    expect(entered).toEqual(['a', 'b', 'c']);
    expect(backpressure.status.heldMessagesHighWater).toBe(90);
    second.resolve();
    await Promise.all([b, c]);
    expect(backpressure.status.heldMessages).toBe(0);
  });

  it('lets a batch larger than the bound in alone, never beside another', async () => {
    const { backpressure } = make();
    const small = deferred();
    const entered: string[] = [];
    const a = backpressure.hold(10, keepAlive, async () => {
      entered.push('small');
      await small.promise;
    });
    const big = backpressure.hold(500, keepAlive, () => {
      entered.push('big');
      return Promise.resolve();
    });
    await flush();
    expect(entered).toEqual(['small']);
    small.resolve();
    await Promise.all([a, big]);
    expect(entered).toEqual(['small', 'big']);
    expect(backpressure.status.heldMessagesHighWater).toBe(500);
    expect(backpressure.status.largestBatch).toBe(500);
  });

  it('releases the held messages when the work fails', async () => {
    const { backpressure } = make();
    await expect(
      backpressure.hold(50, keepAlive, () => Promise.reject(new Error('db down'))),
    ).rejects.toThrow('db down');
    expect(backpressure.status.heldMessages).toBe(0);
  });

  it('pauses fetching once while writes are slow and resumes when the last slow write ends', async () => {
    const { backpressure, calls } = make();
    const one = deferred();
    const two = deferred();
    const first = backpressure.write(() => one.promise);
    const second = backpressure.write(() => two.promise);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls).toEqual(['pause']);
    expect(backpressure.status).toMatchObject({ paused: true, pauses: 1 });
    one.resolve();
    await first;
    expect(calls).toEqual(['pause']);
    two.resolve();
    await second;
    expect(calls).toEqual(['pause', 'resume']);
    expect(backpressure.status).toMatchObject({ paused: false, pausedSince: null });
  });

  it('does not pause for a write that ends in time', async () => {
    const { backpressure, calls } = make({ slowWriteMs: 1_000 });
    await backpressure.write(() => Promise.resolve());
    expect(calls).toEqual([]);
  });

  it('keeps the consumer alive with heartbeats while a batch waits and works', async () => {
    const { backpressure } = make({ heartbeatMs: 10 });
    let beats = 0;
    await backpressure.hold(
      1,
      () => {
        beats++;
        return Promise.resolve();
      },
      () => new Promise((resolve) => setTimeout(resolve, 60)),
    );
    expect(beats).toBeGreaterThanOrEqual(2);
  });
});
